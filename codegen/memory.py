"""Reads through pointers: struct fields, array elements and dereferences.

An expression that denotes an object in kernel or user memory (`p->f`,
`p->arr[i]`, `*p`, `p->inner.f`) has an address; `address()` computes it
without reading anything, so `curtask->se.load.weight` reads 8 bytes, not
the whole sched_entity. `read()` copies a value of a type out of memory with
bpf_probe_read_{kernel,user} into a stack slot; a scalar is then loaded
into a register, bitfields are shifted and masked.

Objects already on the BPF stack (a script struct held in a variable, a
string) are addressed with plain pointer arithmetic instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen import operators
from pytrace.codegen.irbuilder import I64
from pytrace.lang import ast
from pytrace.lang import types as T

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

MEMORY_SPACES = ("kernel", "user")


def _record_of(t: T.Type) -> T.RecordType:
    while isinstance(t, T.PointerType):
        t = t.pointee
    return t  # type: ignore[return-value]


def _elem_size(t: T.Type) -> int:
    if isinstance(t, T.ArrayType):
        return t.elem.size
    if isinstance(t, T.StringType):
        return 1
    return t.pointee.size  # a pointer


def address(pl: "ProbeLowering", node: ast.Expr) -> tuple[ir.Value, bool] | None:
    """(address as i64, is user memory) of an expression that lives in
    kernel/user memory, or None when its value is not in such memory."""
    if isinstance(node, ast.FieldAccess):
        base = _base_address(pl, node.operand, follow=True)
        if base is None:
            return None
        f = _record_of(node.operand.type).field(node.field_name)
        return pl.b.add(base[0], I64(f.offset), name=f"{f.name}_addr"), base[1]
    if isinstance(node, ast.Index):
        base = _base_address(pl, node.operand)
        if base is None:
            return None
        index = pl.expr(node.index)
        operators.check_index(pl, node, index)
        offset = pl.b.mul(index, I64(_elem_size(node.operand.type)))
        return pl.b.add(base[0], offset, name="elem_addr"), base[1]
    if isinstance(node, ast.Unop) and node.op == "*":
        return _pointer_value(pl, node.operand)
    return None


def _base_address(pl: "ProbeLowering", operand: ast.Expr, follow: bool = False) -> tuple[ir.Value, bool] | None:
    """Where the object an access starts from lives: the pointer's value for
    a pointer (`p->f`, `p[i]`, and `p.f`, which follows pointers too), the
    object's own address for a struct or array in memory (`p->s.f`)."""
    t = operand.type
    if isinstance(t, T.PointerType):
        return _pointer_value(pl, operand, follow)
    return address(pl, operand)


def _pointer_value(pl: "ProbeLowering", operand: ast.Expr, follow: bool = False) -> tuple[ir.Value, bool] | None:
    t = operand.type
    if not isinstance(t, T.PointerType) or t.addrspace not in MEMORY_SPACES:
        return None
    value = pl.expr(operand)
    # `p.f` where p is a pointer to a pointer: follow every level but the last.
    while follow and isinstance(t.pointee, T.PointerType):
        value = read(pl, value, t.pointee, t.addrspace == "user")
        t = t.pointee
    return value, t.addrspace == "user"


def read(pl: "ProbeLowering", addr: ir.Value, t: T.Type, user: bool,
         bitfield: tuple[int, int] | None = None, name: str = "read") -> ir.Value:
    """Copy a value of type t from memory at addr: scalars come back in a
    register, everything else as a pointer to a stack slot."""
    if bitfield is not None:
        return _read_bitfield(pl, addr, t, user, bitfield, name)
    out = pl.slot(t, name)
    pl.bb.probe_read(out, t.size, addr, user=user)
    return pl.load_value(out, t)


def _read_bitfield(pl: "ProbeLowering", addr: ir.Value, t: T.Type, user: bool,
                   bitfield: tuple[int, int], name: str) -> ir.Value:
    shift, bits = bitfield
    need = (shift + bits + 7) // 8
    unit = next(n for n in (1, 2, 4, 8) if n >= need)
    buf = pl.slot(T.U64, name)
    pl.bb.probe_read(buf, unit, addr, user=user)
    return extract_bits(pl, pl.bb.load(buf, unit), shift, bits)


def extract_bits(pl: "ProbeLowering", value: ir.Value, shift: int, bits: int) -> ir.Value:
    """Bits [shift, shift + bits) of a 64-bit value: never sign-extended, as bpftrace reads bitfields."""
    b = pl.b
    return b.and_(b.lshr(value, I64(shift)), I64((1 << bits) - 1), name="bitfield")


def field_access(pl: "ProbeLowering", node: ast.FieldAccess) -> ir.Value:
    """`e.f` / `e->f` outside a probe context (kernel, user or stack memory)."""
    f = _record_of(node.operand.type).field(node.field_name)
    loc = address(pl, node)
    if loc is not None:
        return read(pl, loc[0], f.type, loc[1], f.bitfield, f.name)
    base = pl.expr(node.operand)  # a struct on the stack
    if f.bitfield is not None:
        unit = next(n for n in (1, 2, 4, 8) if n >= (f.bitfield[0] + f.bitfield[1] + 7) // 8)
        raw = pl.bb.load(base, unit, False, f.offset)
        return extract_bits(pl, raw, f.bitfield[0], f.bitfield[1])
    return pl.load_value(pl.bb.gep(base, f.offset), f.type)


def index(pl: "ProbeLowering", node: ast.Index) -> ir.Value:
    """`e[i]` on a pointer, or on an array or string in memory or on the stack."""
    elem = node.type
    loc = address(pl, node)
    if loc is not None:
        return read(pl, loc[0], elem, loc[1], name="elem")
    t = node.operand.type
    base = pl.expr(node.operand)  # an array or string on the stack
    count = t.count if isinstance(t, T.ArrayType) else t.size
    i = pl.expr(node.index)
    operators.check_index(pl, node, i)
    in_bounds = pl.b.icmp_unsigned("<", i, I64(count))
    i = pl.b.select(in_bounds, i, I64(0), name="index")
    return pl.load_value(pl.bb.gep(base, pl.b.mul(i, I64(_elem_size(t)))), elem)


def deref(pl: "ProbeLowering", node: ast.Unop) -> ir.Value:
    """`*p`: read the pointee (a scalar, or a struct into a stack slot)."""
    if isinstance(node.operand.type, T.IntType):  # `*kaddr("x")`: a uint64 in kernel memory
        return read(pl, pl.expr(node.operand), node.type, False, name="deref")
    loc = _pointer_value(pl, node.operand)
    if loc is None:  # a pointer into the probe context: load it directly
        return pl.load_value(pl.bb._as_ptr(pl.expr(node.operand)), node.type)
    return read(pl, loc[0], node.type, loc[1], name="deref")
