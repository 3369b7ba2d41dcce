"""Aggregation maps used as values, for the type checker.

bpftrace lets a program read count(), sum(), min(), max() and avg() maps
(`if (@c > 10)`, `$x = @s + 1`, `for ($kv : @c)`): the value is an integer,
the CPUs' values combined (codegen/agg_read.py). The other kinds (stats,
hist, lhist, tseries) keep their aggregation type, which every place that
would use it refuses, in bpftrace's words. lang/aggregations.py says which
kind is `readable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.context import MapInfo
from pytrace.lang.visitor import walk

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker


def read_type(info: MapInfo) -> T.Type:
    """The type of `@m[k]` in an expression."""
    agg = info.aggregation
    if agg is not None and agg.readable:
        return T.IntType(64, info.value_type.signed)  # type: ignore[attr-defined]
    return info.value_type


def _aggregation_read(tc: "TypeChecker", node: ast.Expr) -> MapInfo | None:
    if not isinstance(node, ast.Map):
        return None
    info = tc.ctx.maps.get(node.name)
    return info if info is not None and info.is_aggregation else None


def _plain_maps(tc: "TypeChecker") -> set[str]:
    """Maps some statement assigns a value that is not a read of an aggregation."""
    return {n.target.name for unit in tc.ctx.units for n in walk(unit.probe)
            if isinstance(n, ast.Assign) and isinstance(n.target, ast.Map) and _aggregation_read(tc, n.value) is None}


def refuse_copy(tc: "TypeChecker", target: ast.Map, value: ast.Expr, stmt: ast.Node) -> bool:
    """`@x = @y` where @y is a readable aggregation: allowed only into a map
    that holds integers anyway (bpftrace: `@x = (int64)@y` says what is meant)."""
    info = _aggregation_read(tc, value)
    agg = info.aggregation if info is not None else None
    if info is None or agg is None or not agg.readable or not tc.final or target.name in _plain_maps(tc):
        return False
    assert isinstance(value, ast.Map)
    tc.error(f"Map value '{info.value_type.name}' cannot be assigned from one map to another. The function that "
             f"returns this type must be called directly e.g. `{target.name} = {agg.hint};`.", stmt,
             [f"Add a cast to integer if you want the value of the aggregate, e.g. "
              f"`{target.name} = (int64){value.name};`."])
    return True


def _operand_name(node: ast.Expr, t: T.Type) -> str:
    """How bpftrace names an operand's type: a literal is the smallest int holding it."""
    if isinstance(node, ast.Integer) and 0 <= node.value < 1 << 63:
        return f"int{next(b for b in (8, 16, 32, 64) if node.value < 1 << (b - 1))}"
    return T.describe(t)


def binop_error(tc: "TypeChecker", node: ast.Binop, lt: T.Type, rt: T.Type) -> None:
    """An operator applied to an aggregation that is not an integer."""
    left, right = _operand_name(node.left, lt), _operand_name(node.right, rt)
    if left == right:
        tc.error(f"The {node.op} operator can not be used on expressions of types {left}, {right}", node)
        return
    tc.error(f"Type mismatch for '{node.op}': comparing {left} with {right}", node)
    tc.error(f"left ({left})", node.left)
    tc.error(f"right ({right})", node.right)
