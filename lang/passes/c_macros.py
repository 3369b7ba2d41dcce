"""Expand the script's C `#define NAME value` macros where NAME is used as a
bare identifier, as bpftrace does: the value is parsed as an expression
(`#define RED "\\033[31m"`, `#define TWO (1 + 1)`) and replaces the
identifier, then is expanded in turn (a macro naming itself is an error).
Function-like macros (`#define F(x) ...`) are not expanded."""

from __future__ import annotations

import re

from pytrace.lang import ast
from pytrace.lang.context import CompileContext
from pytrace.lang.diagnostics import Diagnostics
from pytrace.lang.passes.macros import clone
from pytrace.lang.source import Source, Span

_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)(?:[ \t]+(.*))?$", re.S)


def object_macros(program: ast.Program) -> dict[str, str]:
    """NAME -> value text of the script's object-like `#define`s."""
    macros = {}
    for d in program.c_definitions:
        m = _DEFINE.match(d.text.strip()) if d.kind == "define" else None
        if m and m[2] and m[2].strip():
            macros[m[1]] = m[2].replace("\\\n", " ").strip()
    return macros


def _parse_value(name: str, text: str) -> ast.Expr | None:
    """`text` as one expression, or None when it is not one."""
    from pytrace.lang.parser import parse

    program = parse(Source(name, f"BEGIN {{ {text}\n}}"), Diagnostics())
    if program is None or len(program.probes[0].block.stmts) != 1:
        return None
    stmt = program.probes[0].block.stmts[0]
    return stmt.expr if isinstance(stmt, ast.ExprStmt) else None


class _Expander:
    def __init__(self, ctx: CompileContext, macros: dict[str, str]) -> None:
        self.ctx = ctx
        self.macros = macros
        self.parsed: dict[str, ast.Expr | None] = {}

    def visit(self, node: ast.Node, active: tuple[str, ...] = ()) -> None:
        for child in list(node.children()):
            new = self.expand(child, active) if isinstance(child, ast.Identifier) else child
            if new is not child:
                node.replace_child(child, new)
            if new is child:
                self.visit(child, active)

    def expand(self, ident: ast.Identifier, active: tuple[str, ...]) -> ast.Node:
        if ident.name not in self.macros:
            return ident
        if ident.name in active:
            self.ctx.diags.error("Macro recursion: " + "->".join(active), ident.span)
            return ident
        if ident.name not in self.parsed:
            self.parsed[ident.name] = _parse_value(ident.name, self.macros[ident.name])
        value = self.parsed[ident.name]
        if value is None:
            self.ctx.diags.error(f"unable to expand macro as an expression: {self.macros[ident.name]}", ident.span)
            return ident
        expanded = _respan(clone(value), ident.span)
        holder = ast.ExprStmt(expanded)
        self.visit(holder, (*active, ident.name))
        return holder.expr


def _respan(node: ast.Node, span: Span | None) -> ast.Node:
    """The expansion reports at the identifier it replaced."""
    from pytrace.lang.visitor import walk

    for n in walk(node):
        n.span = span
    return node


def expand_c_macros(ctx: CompileContext) -> None:
    program = ctx.program
    if program is None:
        return
    macros = object_macros(program)
    if not macros:
        return
    expander = _Expander(ctx, macros)
    for probe in program.probes:  # bpftrace macros are already expanded into them
        expander.visit(probe)
