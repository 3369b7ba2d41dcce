"""Builtins on pointers and memory from bpftrace's standard library:
`container_of(ptr, typeof(T), member)`, `write_user(dst, src, len)` (unsafe),
`skboutput(path, skb, length, offset)`, `unwatch(addr)`, and `typeof(...)` as
the type argument they take.

Each entry is registered into the tables of lang/builtins.py; its lowering
is the function of the same name in codegen/calls_memory.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.builtins import Function, register

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker

TYPEOF_CONTEXTS = "typeof() can only be used as a type: in a cast, a declaration or a type argument"


def type_argument(node: ast.Expr, tc: "TypeChecker") -> T.Type | None:
    """The type a type argument names: `typeof(TYPE)` or `typeof(expression)`."""
    if isinstance(node, ast.TypeName):
        return tc.resolve_type(node)
    if isinstance(node, ast.Call) and node.name == "typeof" and len(node.args) == 1:
        return tc.sized_type(node.args[0])
    return None


def _typeof(call: ast.Call, tc: "TypeChecker") -> T.Type:
    tc.error(TYPEOF_CONTEXTS, call)
    return T.VOID


def _container_of(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """A pointer to the `type` object whose field `member` ptr points to:
    (type *)((uint64)ptr - offsetof(type, member)); the offset is call.const_value."""
    ptr, type_arg, member = call.args
    pt = tc.expr(ptr)
    if not T.is_integerish(pt):
        tc.error(f"container_of() expects a pointer as the first argument ({T.describe(pt)} provided)", ptr)
    record = type_argument(type_arg, tc)
    if record is None:
        tc.error("container_of() expects a type as the second argument, e.g. typeof(struct Foo)", type_arg)
        return T.PointerType(None)
    if not isinstance(member, ast.Identifier):
        tc.error("container_of() expects a field name as the third argument", member)
        return T.PointerType(record)
    if not isinstance(record, T.RecordType):
        tc.error(f"'{T.describe(record)}' is not a C type.", type_arg)
        return T.PointerType(record)
    field = record.field(member.name)
    if field is None:
        tc.error(f"'{record.name}' has no field named '{member.name}'", member)
        return T.PointerType(record)
    call.const_value = field.offset
    space = pt.addrspace if isinstance(pt, T.PointerType) and pt.addrspace != "ctx" else tc.default_addrspace()
    return T.PointerType(record, space)


def _write_user(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """bpf_probe_write_user(dst, src, len): true on success."""
    if not tc.ctx.options.unsafe:
        tc.error("write_user() is unsafe. To use you need the --unsafe flag", call)
    dst, src, size = call.args
    if not T.is_integerish(tc.expr(dst)):
        tc.error(f"write_user() expects a pointer as the destination ({T.describe(dst.type)} provided)", dst)
    st = tc.expr(src)
    if isinstance(st, (T.VoidType, T.AggType)):
        tc.error(f"write_user() cannot write a value of type {T.describe(st)}", src)
    tc.expect_int("write_user", size)
    return T.BOOL


def _unwatch(call: ast.Call, tc: "TypeChecker") -> T.Type:
    tc.expect_int("unwatch", call.args[0])
    return T.VOID


# skboutput(): the bytes of one packet a probe can capture (the rest of a bigger packet is cut).
SKB_CAPTURE_BYTES = 2048


def _skboutput(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """skboutput(path, skb, length, offset): bytes [offset, length) of the packet's
    data, written to a PCAP file (raw IP) in user space; 0 on success, else -errno.
    pytrace reads the data itself (bpf_probe_read_kernel from skb->data), so it works in
    every probe type; call.arg_type is the kernel's struct sk_buff (its data/len fields)."""
    path, skb, length, offset = call.args
    for a in call.args:
        tc.expr(a)
    if not isinstance(path, ast.String):
        tc.error("skboutput() expects a string literal as the file name", path)
    if not T.is_integerish(skb.type):
        tc.error(f"skboutput() expects a struct sk_buff * ({T.describe(skb.type)} provided)", skb)
    tc.expect_int("skboutput", length)
    tc.expect_int("skboutput", offset)
    record = tc.resolve_type(ast.TypeName("struct sk_buff", span=call.span))
    if isinstance(record, T.RecordType) and record.field("data") and record.field("len"):
        call.arg_type = record
    elif record is not None:
        tc.error("skboutput() needs the kernel's struct sk_buff (with data and len) from BTF", call)
    return T.U32


def _f(name, lo, hi, check, doc, sig, **kw) -> Function:
    return Function(name, lo, hi, check, doc, sig, **kw)


register(
    _f("container_of", 3, 3, _container_of, "a pointer to the object of type T holding the member ptr points to",
       "container_of(ptr, typeof(T), member)", keeps_identifiers=True),
    _f("write_user", 3, 3, _write_user, "write len bytes of src to user memory at dst (bpf_probe_write_user); "
       "true on success", "write_user(dst, src, len)"),
    _f("skboutput", 4, 4, _skboutput, "write bytes [offset, length) of a packet (struct sk_buff *) to a PCAP "
       "file (raw IP); 0 on success, else -errno", "skboutput(path, skb, length, offset)"),
    _f("unwatch", 1, 1, _unwatch, "remove the watchpoint on an address", "unwatch(addr)"),
    _f("typeof", 1, 1, _typeof, "the type of a type or an expression, where a type is expected "
       "(container_of's type argument)", "typeof(TYPE | expr)"),
)
