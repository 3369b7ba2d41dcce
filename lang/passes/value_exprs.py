"""Type rules for current bpftrace's value forms, used by the type checker
(lang/passes/typecheck.py dispatches to these functions):

* block expressions `{ stmts; value }` and `if` expressions
  `if c { a } else { b }`;
* records `(a = 1, b = "x")`: a tuple type with field names (`TupleType.names`),
  read with `$r.a`; two records with the same names in another order are
  the same type (the first one seen gives the layout);
* tuple subscripts `$t[0]` with an index known at compile time;
* `_ = expr;`, which computes a value and drops it.

Each function takes the TypeChecker (`tc`) and the node and returns its type.
"""

from __future__ import annotations

from typing import Callable

from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.passes import type_rules


def check_block_expr(tc, node: ast.BlockExpr) -> T.Type:
    tc.scopes.append({})
    for stmt in node.stmts:
        tc.stmt(stmt)
    t = tc.expr(node.value) if node.value is not None else T.VOID
    tc.scopes.pop()
    return t


def check_if_expr(tc, node: ast.IfExpr) -> T.Type:
    from pytrace.lang.passes.typecheck import _merge

    tc._cond(node.cond)
    then_t = tc.expr(node.then)
    other_t = tc.expr(node.otherwise) if node.otherwise is not None else T.VOID
    if isinstance(then_t, T.VoidType) and isinstance(other_t, T.VoidType):
        return T.VOID
    merged = _merge(T.storage_type(then_t), T.storage_type(other_t))
    if merged is None:
        tc.error(f"Branches must return the same type or compatible types: have '{T.describe(then_t)}' "
                 f"and '{T.describe(other_t)}'", node)
        return then_t
    return merged


def check_record(tc, node: ast.Record) -> T.Type:
    elems = tuple(T.storage_type(tc.expr(v)) for v in node.values)
    for value, t in zip(node.values, elems):
        if isinstance(t, T.AggType):
            tc.error(f"Map type {t.name} cannot exist inside a record.", value)
    return T.TupleType(elems, tuple(node.names))


def record_field(tc, node: ast.FieldAccess, t: T.TupleType) -> T.Type:
    """`$r.name` on a record."""
    if node.field_name not in t.names:
        tc.error(f"Record does not contain a field named '{node.field_name}'", node)
        return T.U64
    node.tuple_index = t.names.index(node.field_name)
    return t.elems[node.tuple_index]


def check_discard(tc, node: ast.Discard) -> None:
    tc.expr(node.expr)


def merge_records(old: T.TupleType, new: T.TupleType, merge: Callable) -> T.Type | None:
    """The common type of two records (fields matched by name, in `old`'s
    order), or None when they differ in their names or a field's type."""
    if sorted(old.names) != sorted(new.names):
        return None
    by_name = dict(zip(new.names, new.elems))
    elems = [merge(t, by_name[n]) for n, t in zip(old.names, old.elems)]
    return None if None in elems else T.TupleType(tuple(elems), old.names)


def typeof_type(tc, tn: ast.TypeName, addrspace: str) -> T.Type | None:
    """The type `typeof(x) **` names: x is a type or an expression (whose
    type is taken; it is never run)."""
    t = type_context(tc, tn.of, addrspace)
    if t is None:
        return None
    for _ in range(tn.pointer):
        t = T.PointerType(None if isinstance(t, T.VoidType) else t, addrspace)
    return t


def type_context(tc, arg: ast.Node, addrspace: str = "kernel") -> T.Type | None:
    """The type an argument of sizeof/typeof names. Where a type is expected,
    `t[N]` on a type (from a macro's typeof argument) is an array of N t."""
    if isinstance(arg, ast.TypeName):
        return tc.resolve_type(arg, addrspace)
    if isinstance(arg, ast.Index) and isinstance(arg.operand, ast.TypeName):
        elem = tc.resolve_type(arg.operand, addrspace)
        count = type_rules.fold_int(arg.index)
        if elem is None or count is None:
            return None
        return T.ArrayType(elem, count)
    return tc.expr(arg)
