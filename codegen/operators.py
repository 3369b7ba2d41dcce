"""Lowering of the operators whose typing lives in lang/passes/type_rules.py:
pointer arithmetic (scaled by the pointee's size), `/` and `%` checked for a
zero divisor (bpftrace's run-time warning, and 1 as the result), `==`/`!=` on
integer arrays, and casts between integers, strings and integer arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen.artifact import EventSpec
from pytrace.codegen.irbuilder import I64
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.diagnostics import WARNING, Diagnostic
from pytrace.lang.passes.type_rules import pointer_scale, tuple_elem_type

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

DIVIDE_BY_ZERO = ("Divide or modulo by 0 detected. This can lead to unexpected results. "
                  "1 is being used as the result.")
ARRAY_ACCESS_OOB = "Array access out of bounds. This can lead to unexpected results."


def pointer_arith(pl: ProbeLowering, node: ast.Binop, left: ir.Value, right: ir.Value) -> ir.Value:
    """`p + n`, `n + p`, `p - n`: move by n pointees."""
    left_is_ptr = isinstance(node.left.type, T.PointerType)
    ptr, n = (left, right) if left_is_ptr else (right, left)
    ptr_t = node.left.type if left_is_ptr else node.right.type
    scale = pointer_scale(ptr_t)  # type: ignore[arg-type]
    offset = n if scale == 1 else pl.b.mul(n, I64(scale), name="ptr_offset")
    if node.op == "-":
        return pl.b.sub(ptr, offset, name="ptr_sub")
    return pl.b.add(ptr, offset, name="ptr_add")


def runtime_warning_event(pl: ProbeLowering, message: str, node: ast.Node) -> EventSpec:
    """An event user space prints, each time it arrives, as a warning at node."""
    ev = pl.state.add_event("runtime_warning")
    ev.fmt = Diagnostic(WARNING, message, node.span).render()
    return ev


def checked_divide(pl: ProbeLowering, node: ast.Binop, left: ir.Value, right: ir.Value, divide) -> ir.Value:
    """`left / right` or `left % right` by divide(left, right), except that a
    zero divisor warns at run time and gives 1 (as bpftrace does). The branch
    also keeps LLVM from assuming the divisor is non-zero (division by zero
    is undefined for it) and dropping a map lookup's null check before it."""
    result = pl.slot_uninit(T.U64, "op_result")
    is_zero, not_zero, done = pl.if_else(pl.b.icmp_unsigned("==", right, I64(0), name="zero_cond"), "divisor")
    pl.b.position_at_end(is_zero)
    pl.bb.store(result, I64(1))
    pl.emit_event(runtime_warning_event(pl, DIVIDE_BY_ZERO, node), [])
    pl.b.branch(done)
    pl.b.position_at_end(not_zero)
    pl.bb.store(result, divide(left, right))
    pl.b.branch(done)
    pl.b.position_at_end(done)
    return pl.bb.load(result, name="op_result")


def check_index(pl: ProbeLowering, node: ast.Index, index: ir.Value) -> None:
    """`a[i]` on an array: an index past its end warns at run time (the access goes on)."""
    t = node.operand.type
    if not isinstance(t, T.ArrayType):
        return
    past_end = pl.b.icmp_unsigned(">", index, I64(t.count - 1), name="oob_cond")
    oob, ok, done = pl.if_else(past_end, "oob")
    pl.b.position_at_end(oob)
    pl.emit_event(runtime_warning_event(pl, ARRAY_ACCESS_OOB, node), [])
    pl.b.branch(done)
    pl.b.position_at_end(ok)
    pl.b.branch(done)
    pl.b.position_at_end(done)


def array_equal(pl: ProbeLowering, node: ast.Binop, left: ir.Value, right: ir.Value) -> ir.Value:
    """`a == b` / `a != b` on two integer arrays or buffers in memory: every
    byte compared (of the shorter buffer, whose length field then differs)."""
    size = min(node.left.type.size, node.right.type.size)
    diff: ir.Value = I64(0)
    off = 0
    for width in (8, 4, 2, 1):
        while size - off >= width:
            a = pl.bb.load(left, width, False, off)
            b = pl.bb.load(right, width, False, off)
            diff = pl.b.or_(diff, pl.b.xor(a, b))
            off += width
    cmp = pl.b.icmp_unsigned("==" if node.op == "==" else "!=", diff, I64(0), name="array_cmp")
    return pl.bb.bool_i64(cmp)


def cast_to_array(pl: ProbeLowering, node: ast.Cast, value: ir.Value) -> ir.Value:
    """`(uint8[4])$x`: an integer's bytes in a new array; a string or array's
    memory is already the array's bytes."""
    source, target = node.operand.type, node.type
    if not isinstance(source, (T.IntType, T.BoolType)):
        return value
    out = pl.slot(target, "cast_array")
    pl.bb.store(out, value, target.size)
    return out


def cast_from_array(pl: ProbeLowering, node: ast.Cast, value: ir.Value) -> ir.Value:
    """`(uint32)$arr`: an integer array's bytes read as one integer."""
    t = node.type
    return pl.bb.load(value, t.size, T.is_signed(t), name="array_as_int")


def cast_to_pointer(pl: ProbeLowering, node: ast.Cast, value: ir.Value) -> ir.Value:
    """`(uint8 *)$x`: an integer narrower than 64 bits is zero-extended, as bpftrace's
    inttoptr does; an integer literal has the smallest type holding it, so `(T *)-1` is 0xff."""
    source = node.operand.type
    if not isinstance(source, T.IntType) or isinstance(source, T.EnumType):
        return value
    if isinstance(node.operand, ast.Integer):
        source = tuple_elem_type(node.operand.value, source)
    if source.bits >= 64:
        return value
    return pl.b.zext(pl.b.trunc(value, ir.IntType(source.bits)), I64)


def cast_to_wider_string(pl: ProbeLowering, node: ast.Cast, value: ir.Value) -> ir.Value:
    """`(string[32])$s`: the string in a buffer of the wider size."""
    out = pl.slot(node.type, "wider_str")
    pl.bb.memcpy(out, value, node.operand.type.size)
    return out


def tuple_element(pl: ProbeLowering, node: ast.Index) -> ir.Value:
    """`$t[1 + 1]`: the element the type checker found."""
    t = node.operand.type
    i = node.tuple_element
    return pl.load_value(pl.bb.gep(pl.expr(node.operand), t.offsets()[i]), t.elems[i])
