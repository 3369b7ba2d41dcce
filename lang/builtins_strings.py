"""Builtins on strings and memory (`str_concat`, `strstr`, `strcap`, `memcmp`,
`pton`), the name tables (`strerror`, `signal_name`, `syscall_name`),
`find()` on maps, and the compile-time type predicates (`is_str`, `is_ptr`...).

Each entry is registered into the tables of lang/builtins.py; its lowering
is the function of the same name in codegen/calls_strings.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.builtins import Function, _expect_string, register

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker

# strerror(), signal_name(), syscall_name(): a name of at most 63 bytes.
NAME_STRING = T.StringType(64)


def _name_lookup(call: ast.Call, tc: "TypeChecker") -> T.Type:
    tc.expect_int(call.name, call.args[0])
    return NAME_STRING


def _str_concat(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """Room for both strings (bpftrace's string[1024] only differs when they do not fit in it)."""
    a = _expect_string(tc, "str_concat", call.args[0])
    b = _expect_string(tc, "str_concat", call.args[1])
    if not isinstance(a, T.StringType) or not isinstance(b, T.StringType):
        return T.StringType(1)
    return T.StringType(a.size + b.size)


def _strstr(call: ast.Call, tc: "TypeChecker") -> T.Type:
    _expect_string(tc, "strstr", call.args[0])
    _expect_string(tc, "strstr", call.args[1])
    return T.S64


def _strcap(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """The capacity of a string (its buffer's size) or of an array (its element count)."""
    t = tc.expr(call.args[0])
    if isinstance(t, T.StringType):
        call.const_value = t.size
    elif isinstance(t, T.ArrayType):
        call.const_value = t.count
    else:
        tc.error("string-like values must be either strings, arrays or pointers"
                 if not isinstance(t, T.PointerType) else
                 "strcap() of a pointer is not supported (use strlen(str(ptr)))", call.args[0])
    return T.S64


def _memcmp(call: ast.Call, tc: "TypeChecker") -> T.Type:
    for arg in call.args[:2]:
        t = tc.expr(arg)
        if isinstance(t, (T.VoidType, T.AggType, T.StackType)):
            tc.error(f"memcmp() cannot compare a value of type {T.describe(t)}", arg)
    n = tc.expect_const("memcmp", call.args[2], "the count")
    sizes = [a.type.size for a in call.args[:2] if a.type is not None]
    if n is not None and (n < 0 or any(n > s for s in sizes)):
        tc.error(f"memcmp() count must be between 0 and the size of both values ({min(sizes, default=0)})",
                 call.args[2])
    return T.S32


def _find(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """find(@map, key, $var): like has_key(), and copies the value into $var when found."""
    map_node, key, var = call.args
    info = tc.expect_map("find", map_node, whole=True)
    if not isinstance(var, ast.Variable):
        tc.error("find() expects a scratch variable as the third argument", var)
        return T.BOOL
    if info is None:
        return T.BOOL
    if not info.key_types:
        tc.error("call to find expects a map with explicit keys (non-scalar map)", map_node)
        return T.BOOL
    keys = list(key.elems) if isinstance(key, ast.Tuple) and len(info.key_types) > 1 else [key]
    call.key_map = ast.Map(map_node.name, keys, span=key.span)
    tc.assign_var(var, call.key_map, call)
    return T.BOOL


def _pton(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """pton("127.0.0.1"): the address's bytes in network order, at compile time."""
    arg = call.args[0]
    tc.expr(arg)
    if not isinstance(arg, ast.String):
        tc.error("pton() expects an string literal at the first argument", arg)
        return T.ArrayType(T.U8, 4)
    import socket  # only for pton() (start-up time)

    family = socket.AF_INET if "." in arg.value else socket.AF_INET6 if ":" in arg.value else None
    if family is None:
        tc.error(f"pton() expects an string argument of an IPv4/IPv6 address, got {arg.value}", call)
        return T.ArrayType(T.U8, 4)
    try:
        packed = socket.inet_pton(family, arg.value)
    except OSError:
        tc.error(f"pton() expects a valid IPv4/IPv6 address, got {arg.value}", call)
        return T.ArrayType(T.U8, 4 if family == socket.AF_INET else 16)
    call.const_value = int.from_bytes(packed, "little")
    return T.ArrayType(T.U8, len(packed))


def _is_literal(node: ast.Expr) -> bool:
    if isinstance(node, ast.Unop) and node.op == "-":
        return isinstance(node.operand, ast.Integer)
    if isinstance(node, ast.Tuple):  # a tuple of literals is one (bpftrace's Expression::is_literal)
        return all(_is_literal(e) for e in node.elems)
    return isinstance(node, (ast.Integer, ast.String, ast.Boolean))


# is_X(expr): whether the expression (not evaluated) is of a kind of type.
TYPE_PREDICATES: dict[str, Callable[[ast.Expr, T.Type], bool]] = {
    "is_array": lambda node, t: isinstance(t, T.ArrayType),
    "is_integer": lambda node, t: isinstance(t, T.IntType),
    "is_unsigned_integer": lambda node, t: isinstance(t, T.IntType) and not t.signed,
    "is_ptr": lambda node, t: isinstance(t, T.PointerType),
    "is_str": lambda node, t: isinstance(t, T.StringType),
    "is_literal": lambda node, t: _is_literal(node),
}


def _type_predicate(call: ast.Call, tc: "TypeChecker") -> T.Type:
    arg = call.args[0]
    call.const_value = int(TYPE_PREDICATES[call.name](arg, tc.expr(arg)))
    return T.BOOL


def _is_err(call: ast.Call, tc: "TypeChecker") -> T.Type:
    tc.expect_int("is_err", call.args[0])
    return T.BOOL


def _f(name, lo, hi, check, doc, sig, **kw) -> Function:
    return Function(name, lo, hi, check, doc, sig, **kw)


_PREDICATE_DOCS = {
    "is_array": "an array", "is_integer": "an integer", "is_unsigned_integer": "an unsigned integer",
    "is_ptr": "a pointer", "is_str": "a string", "is_literal": "a literal (1, true, \"hello\")",
}

register(
    _f("strerror", 1, 1, _name_lookup, "the text of an errno value (\"Operation not permitted\")", "strerror(errno)"),
    _f("signal_name", 1, 1, _name_lookup, "the description of a signal number (\"Interrupt\")",
       "signal_name(sig)"),
    _f("syscall_name", 1, 1, _name_lookup, "the name of an x86_64 system call number (\"read\")",
       "syscall_name(nr)"),
    _f("str_concat", 2, 2, _str_concat, "the two strings joined", "str_concat(s1, s2)"),
    _f("strstr", 2, 2, _strstr, "index of the first needle in haystack, or -1", "strstr(haystack, needle)"),
    _f("strcap", 1, 1, _strcap, "capacity of a string (its buffer size) or an array (its length)", "strcap(s)"),
    _f("memcmp", 3, 3, _memcmp, "compare the first n bytes of two values (0 when equal)",
       "memcmp(left, right, n)"),
    _f("find", 3, 3, _find, "whether a map has a key; if so, copy its value into $var",
       "find(@map, key, $var)"),
    _f("pton", 1, 1, _pton, "the bytes of an IPv4/IPv6 address literal (char[4] or char[16])", 'pton("addr")'),
    _f("is_err", 1, 1, _is_err, "whether a pointer is an ERR_PTR (an errno in -4095..-1)", "is_err(ptr)"),
    *(_f(name, 1, 1, _type_predicate, f"whether the expression is {what} (at compile time)", f"{name}(expr)")
      for name, what in _PREDICATE_DOCS.items()),
)
