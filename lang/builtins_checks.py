"""Checks and messages: `errorf`, `warnf` and `debugf` (run time), `fail`,
`static_assert` and `assert_str` (compile time), `assert` (run time), and the
program's settings as the script sees them: `getopt()` (options after `--`
on the command line, see lang/passes/program_options.py) and `config()`.

Each entry is registered into the tables of lang/builtins.py; its lowering
is the function of the same name in codegen/calls_checks.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.lang import ast, format_string
from pytrace.lang import types as T
from pytrace.lang.builtins import ALIASES, Function, register

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker

# assert() is a macro of bpftrace's standard library: its failure is reported
# by the errorf() call inside it, at that call's place in stdlib/base.bt.
ASSERT_FORMAT = "assert failed: %s"
ASSERT_LOCATION = "stdlib/base.bt:6:5-37"
ASSERT_EXIT_CODE = 1
# cpid without -c: the warnf() of bpftrace's cpid() macro, at its place in stdlib/base.bt.
NO_CHILD_WARNING = "No child command (`-c`); cpid is zero"
NO_CHILD_LOCATION = "stdlib/base.bt:208:5-51"

DEBUGF_WARNING = ("The debugf() builtin is not recommended for production use. "
                  "For more information see bpf_trace_printk in bpf-helpers(7).")


def _format_kinds(tc: "TypeChecker", args: list[ast.Expr]) -> list[tuple[str, str]]:
    from pytrace.lang.passes.typecheck import _format_kind

    return [(_format_kind(tc.expr(a)), T.describe(a.type)) for a in args]


def _message(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """errorf/warnf: printf's checks; user space prints the text as an error/warning at the call."""
    tc.check_format_call(call)
    return T.VOID


def _debugf(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """debugf(fmt, ...): bpf_trace_printk, with its narrower set of conversions."""
    fmt = call.args[0]
    kinds = _format_kinds(tc, call.args[1:])
    tc.expr(fmt)
    tc.warning(DEBUGF_WARNING, call)
    if len(call.args) - 1 > format_string.DEBUGF_MAX_ARGS:
        tc.error(format_string.DEBUGF_TOO_MANY, call)
        return T.VOID
    if not isinstance(fmt, ast.String):
        tc.error("debugf() expects a string literal as the format", fmt)
        return T.VOID
    segments, err = format_string.parse_format(fmt.value)
    problem = err[0] if err is not None else format_string.check_args(segments, kinds)
    if problem is not None:
        tc.error(f"debugf: {problem}", call)
        return T.VOID
    for where, msg in format_string.check_debugf_args(segments, [k for k, _ in kinds]):
        tc.error(msg, fmt if where < 0 else call.args[1 + where])
    return T.VOID


def _literal_value(node: ast.Expr) -> int | str | bool | None:
    if isinstance(node, (ast.Integer, ast.String, ast.Boolean)):
        return node.value
    if isinstance(node, ast.Unop) and node.op == "-" and isinstance(node.operand, ast.Integer):
        return -node.operand.value
    return None


def format_literals(fmt: str, values: list[int | str | bool]) -> str:
    """printf formatting of literal arguments, at compile time (fail())."""
    segments, _ = format_string.parse_format(fmt)
    out, it = [], iter(values)
    for seg in segments:
        if seg.conv is None:
            out.append(seg.text)
            continue
        v = next(it, "")
        if isinstance(v, bool):
            v = int(v) if seg.conv != "s" else ("true" if v else "false")
        if seg.conv in ("x", "X", "o") and isinstance(v, int):
            v = format(v & (2**64 - 1), seg.conv)
        text = str(v)
        width = seg.width or 0
        out.append(text.ljust(width) if seg.left_align else text.rjust(width))
    return "".join(out)


def _fail(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """fail(fmt, literals...): an error at the call, with the formatted message."""
    fmt = call.args[0]
    values = [_literal_value(a) for a in call.args[1:]]
    for a in call.args:
        tc.expr(a)
    if not isinstance(fmt, ast.String):
        tc.error("fail() expects a string literal as the format", fmt)
        return T.VOID
    for a, v in zip(call.args[1:], values):
        if v is None:
            tc.error("fail() arguments must be literals", a)
            return T.VOID
    tc.error(format_literals(fmt.value, values), call)  # type: ignore[arg-type]
    return T.VOID


def _static_assert(call: ast.Call, tc: "TypeChecker") -> T.Type:
    cond, msg = call.args
    tc.expr(cond)
    tc.expr(msg)
    if not isinstance(msg, ast.String):
        tc.error("static_assert() expects a string literal as the message", msg)
        return T.VOID
    value = const_eval(cond)
    if value is None:
        tc.error("static_assert() expects a condition known at compile time", cond)
    elif not value:
        tc.error(msg.value, call)
    return T.VOID


def const_eval(node: ast.Expr) -> int | None:
    """The value of a type-checked expression known at compile time, or None."""
    if isinstance(node, (ast.Integer, ast.Boolean)):
        return int(node.value)
    if isinstance(node, ast.Call):
        return node.const_value
    if isinstance(node, (ast.Sizeof, ast.Offsetof)):
        return node.value
    if isinstance(node, ast.Unop) and node.op in _UNOPS:
        v = const_eval(node.operand)
        return None if v is None else _UNOPS[node.op](v)
    if isinstance(node, ast.Binop) and node.op in _BINOPS:
        a, b = const_eval(node.left), const_eval(node.right)
        return None if a is None or b is None else int(_BINOPS[node.op](a, b))
    return None


_UNOPS = {"!": lambda v: int(not v), "-": lambda v: -v, "~": lambda v: ~v}
_BINOPS = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "&&": lambda a, b: bool(a and b),
    "||": lambda a, b: bool(a or b), "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b,
}


def _assert(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """assert(cond, msg): at run time, when cond is false, the error
    "assert failed: MSG" and exit(1)."""
    from pytrace.lang.passes.typecheck import _storage_type

    cond, msg = call.args
    if not T.is_integerish(tc.expr(cond)):
        tc.error(f"assert() expects a boolean condition ({T.describe(cond.type)} provided)", cond)
    mt = tc.expr(msg)
    if not isinstance(mt, T.StringType):
        tc.error(f"assert() expects a string message ({T.describe(mt)} provided)", msg)
        return T.VOID
    if tc.final:
        segments, _ = format_string.parse_format(ASSERT_FORMAT)
        call.format = tc.ctx.add_format("errorf", ASSERT_FORMAT, [_storage_type(mt)], segments)
    return T.VOID


def _assert_str(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """assert_str(e): e is string-like (a string, or an array of or pointer to int8)."""
    t = tc.expr(call.args[0])
    if isinstance(t, T.StringType):
        return T.VOID
    if isinstance(t, T.ArrayType):
        if not _is_char(t.elem):
            tc.error("string-like arrays must contain a char-like type", call)
    elif isinstance(t, T.PointerType):
        if not _is_char(t.pointee):
            tc.error("string-like pointers must point to a char-like type", call)
    else:
        tc.error("string-like values must be either strings, arrays or pointers", call)
    return T.VOID


def _is_char(t: T.Type | None) -> bool:
    return isinstance(t, T.IntType) and t.bits == 8


# ---------------------------------------------------------------- the program's settings


def _getopt(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """The value of a program option, decided by the program_options pass."""
    option = tc.ctx.program_options.get(call.args[0].value) if isinstance(call.args[0], ast.String) else None
    for a in call.args:
        tc.expr(a)
    if option is None:
        return T.BOOL  # reported by the program_options pass
    if option.kind == "string":
        call.expansion = ast.String(option.value, span=call.span)
        t = T.StringType(tc.max_strlen)
        call.expansion.type = t
        return t
    call.const_value = int(option.value) & (2**64 - 1)
    return {"bool": T.BOOL, "unsigned": T.U64, "signed": T.S64}[option.kind]


def _config(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """config() as a whole; its fields (`config().max_strlen`) are literals by now
    (lang/passes/program_settings.py)."""
    tc.error("config() can only be used to read a setting, e.g. config().max_strlen", call)
    return T.VOID


def _f(name, lo, hi, check, doc, sig, **kw) -> Function:
    return Function(name, lo, hi, check, doc, sig, **kw)


register(
    _f("errorf", 1, 128, _message, "print formatted text as an error at the call (stderr)", "errorf(fmt, ...)"),
    _f("warnf", 1, 128, _message, "print formatted text as a warning at the call (stderr; not with "
       "--no-warnings)", "warnf(fmt, ...)"),
    _f("debugf", 1, 128, _debugf, "write formatted text to the kernel's trace pipe (bpf_trace_printk; "
       "%d %u %x %p %s, at most 3 arguments)", "debugf(fmt, ...)"),
    _f("fail", 1, 128, _fail, "stop compiling with this error at the call (arguments are literals)",
       "fail(fmt, ...)"),
    _f("static_assert", 2, 2, _static_assert, "stop compiling with msg when a compile-time condition is false",
       "static_assert(cond, msg)"),
    _f("assert", 2, 2, _assert, 'at run time, when cond is false: the error "assert failed: MSG" and exit(1)',
       "assert(cond, msg)"),
    _f("assert_str", 1, 1, _assert_str, "check at compile time that a value is string-like", "assert_str(e)"),
    _f("getopt", 1, 3, _getopt, "a program option given after `--` (--name[=value]); its type is the "
       "default's: bool (no default), int or string", "getopt(name[, default[, description]])"),
    _f("config", 0, 0, _config, "the settings in effect, read by field: config().max_strlen", "config()",
       bare=True),
)

ALIASES.update({"__builtin_config": "config"})
