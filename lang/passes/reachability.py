"""Statements that can never run: bpftrace warns on the first statement after one that
always ends the probe (`exit()`, `return`) or, in a loop body, the iteration (`break`,
`continue`); an `if` ends it when both of its branches do. The code is left in place
(codegen emits it into an unreachable block); only the warning is given."""

from __future__ import annotations

from pytrace.lang import ast
from pytrace.lang.context import CompileContext

PROBE_ENDS = ("return",)
LOOP_ENDS = ("return", "break", "continue")


def check_reachability(ctx: CompileContext) -> None:
    if ctx.program is None:
        return
    for probe in ctx.program.probes:
        _block(ctx, probe.block.stmts, PROBE_ENDS)


def _block(ctx: CompileContext, stmts: list[ast.Stmt], ends: tuple[str, ...]) -> bool:
    """Warn inside a statement list; True when it always ends (with one of `ends`)."""
    for i, stmt in enumerate(stmts):
        if _ends(ctx, stmt, ends):
            if i + 1 < len(stmts):
                ctx.diags.warning("Unreachable statement.", stmts[i + 1].span)
            return True
    return False


def _ends(ctx: CompileContext, stmt: ast.Stmt, ends: tuple[str, ...]) -> bool:
    if isinstance(stmt, ast.Jump):
        return stmt.kind in ends
    if isinstance(stmt, ast.ExprStmt):
        return isinstance(stmt.expr, ast.Call) and stmt.expr.name == "exit"
    if isinstance(stmt, ast.Block):
        return _block(ctx, stmt.stmts, ends)
    if isinstance(stmt, ast.If):
        then = _block(ctx, stmt.then.stmts, ends)
        otherwise = stmt.otherwise is not None and _ends(ctx, stmt.otherwise, ends)
        return then and otherwise
    if isinstance(stmt, (ast.While, ast.For)):
        _block(ctx, stmt.body.stmts, LOOP_ENDS)
        return False  # a jump in the loop ends the iteration, not the probe
    if isinstance(stmt, ast.Unroll):
        return _block(ctx, stmt.body.stmts, ends)
    return False
