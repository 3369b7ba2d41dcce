"""Lowering of current bpftrace's value forms (see lang/passes/value_exprs.py
for their type rules): block and `if` expressions, records, tuple/record
element reads, `_ = expr;`. Each function takes the ProbeLowering (`pl`)."""

from __future__ import annotations

from llvmlite import ir

from pytrace.codegen.irbuilder import I64
from pytrace.lang import ast
from pytrace.lang import types as T


def _in_register(t: T.Type) -> bool:
    return t.is_scalar or isinstance(t, T.BoolType)


def lower_block_expr(pl, node: ast.BlockExpr) -> ir.Value:
    for stmt in node.stmts:
        pl.stmt(stmt)
    if node.value is None:
        return I64(0)
    return pl.expr(node.value)


def lower_if_expr(pl, node: ast.IfExpr) -> ir.Value:
    t = node.type
    cond = pl.truth(pl.expr(node.cond), node.cond.type)
    void = isinstance(t, T.VoidType)
    result = None if void else pl.slot_uninit(t, "if_value")
    then, other, done = pl.if_else(cond, "if_expr")
    for block, branch in ((then, node.then), (other, node.otherwise)):
        pl.b.position_at_end(block)
        if branch is not None:
            value = pl.expr(branch)
            if result is not None and _in_register(t):
                pl.bb.store(result, value)
            elif result is not None:
                pl.bb.memset(result, t.size)
                pl.store_value(result, 0, value, branch.type, t)
        if not pl.b.block.is_terminated:
            pl.b.branch(done)
    pl.b.position_at_end(done)
    if result is None:
        return I64(0)
    return pl.bb.load(result) if _in_register(t) else result


def lower_record(pl, node: ast.Record) -> ir.Value:
    return pl.build_tuple(node.values, node.type, "record")


def element(pl, operand: ast.Expr, index: int) -> ir.Value:
    """Element `index` of a tuple or record value: `$t.0`, `$t[0]`, `$r.name`."""
    t = operand.type
    base = pl.expr(operand)
    return pl.load_value(pl.bb.gep(base, t.offsets()[index]), t.elems[index])


def element_pairs(src_t: T.TupleType, dst_t: T.TupleType) -> list[tuple[tuple[int, T.Type], tuple[int, T.Type]]]:
    """((source offset, type), (destination offset, type)) of each element a
    tuple value copies into another tuple's layout; record fields by name."""
    src = list(zip(src_t.offsets(), src_t.elems))
    dst = list(zip(dst_t.offsets(), dst_t.elems))
    if src_t.names and dst_t.names and src_t.names != dst_t.names:
        position = {n: i for i, n in enumerate(src_t.names)}
        return [(src[position[n]], d) for n, d in zip(dst_t.names, dst) if n in position]
    return list(zip(src, dst))


def lower_discard(pl, node: ast.Discard) -> None:
    pl.expr(node.expr)
