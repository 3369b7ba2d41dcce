"""Expand bpftrace macros: `macro name($var, @map, expr) { ...; value }`.

A call `name(args)` (or a bare `name` for a macro without parameters) is
replaced by a copy of the macro's body in which

* a `$var` parameter becomes the variable passed (which the body may change),
* an `@map` parameter becomes the map passed,
* an identifier parameter becomes a copy of the expression passed,
* the body's own variables are renamed, so they never meet the caller's
  (macros are hygienic), and any other map is an error.

Used as a statement, the call becomes the body (a block). Used as a value,
the call becomes the body's last expression, and the statements before it
run just before the statement that holds the call.
"""

from __future__ import annotations

import copy

from pytrace.lang import ast, builtins
from pytrace.lang.context import CompileContext

MAX_DEPTH = 32


def clone(node):
    """A deep copy of a subtree that shares spans, other annotations and non-node values."""
    if isinstance(node, list):
        return [clone(n) for n in node]
    if not isinstance(node, ast.Node):
        return node
    new = copy.copy(node)
    for f in ast.tree_fields(node):
        value = getattr(node, f.name)
        if isinstance(value, (ast.Node, list)):
            setattr(new, f.name, clone(value))
    return new


def _builtin_takes(name: str, count: int) -> bool:
    """A builtin function taking `count` arguments, or a builtin variable (`count` 0) of that name."""
    name = builtins.ALIASES.get(name, name)
    fn = builtins.function(name)
    if fn is not None:
        return fn.min_args <= count <= fn.max_args
    return count == 0 and builtins.variable(name) is not None


def _mark_expanded(body: ast.Node, call: ast.Expr) -> None:
    """Record on each call of an expanded body the macro call it came from
    (errorf() and diagnostics show "expanded from")."""
    for node in body.children():
        if isinstance(node, ast.Call):
            node.expanded_from = [*(node.expanded_from or []), call.span]
        _mark_expanded(node, call)


class _Expander:
    def __init__(self, ctx: CompileContext, macros: dict[str, ast.Macro]) -> None:
        self.ctx = ctx
        self.macros = macros
        self.count = 0
        self.stack: list[str] = []

    def error(self, msg: str, node: ast.Node, hints: list[str] | None = None) -> None:
        self.ctx.diags.error(msg, node.span, hints)

    # ------------------------------------------------------------ walking statements and expressions
    def block(self, block: ast.Block) -> None:
        out: list[ast.Stmt] = []
        for stmt in block.stmts:
            hoisted: list[ast.Stmt] = []
            new = self.stmt(stmt, hoisted)
            out.extend(hoisted)
            out.append(new)
        block.stmts = out

    def stmt(self, stmt: ast.Stmt, hoisted: list[ast.Stmt]) -> ast.Stmt:
        if isinstance(stmt, ast.ExprStmt) and self.macro_for(stmt.expr) is not None:
            expanded = self.expand(stmt.expr)
            if expanded is not None:
                return expanded
            return stmt
        if isinstance(stmt, ast.Block):
            self.block(stmt)
            return stmt
        for child in list(stmt.children()):
            if isinstance(child, ast.Block):
                self.block(child)
            elif isinstance(child, ast.Stmt):
                new = self.stmt(child, hoisted)
                if new is not child:
                    stmt.replace_child(child, new)
            else:
                new = self.expr(child, hoisted)
                if new is not child:
                    stmt.replace_child(child, new)
        return stmt

    def expr(self, node: ast.Node, hoisted: list[ast.Stmt]) -> ast.Node:
        for child in list(node.children()):
            new = self.expr(child, hoisted)
            if new is not child:
                node.replace_child(child, new)
        if self.macro_for(node) is None:
            return node
        body = self.expand(node)
        if body is None:
            return node
        *before, last = body.stmts or [None]
        if not isinstance(last, ast.ExprStmt):
            self.error(f"Macro '{self.name_of(node)}' does not return a value", node)
            return node
        hoisted.extend(before)
        return last.expr

    # ------------------------------------------------------------ expansion
    @staticmethod
    def name_of(node: ast.Node) -> str:
        return node.name if isinstance(node, (ast.Call, ast.Identifier)) else ""

    def macro_for(self, node: ast.Node) -> ast.Macro | None:
        if isinstance(node, ast.Call):
            m = self.macros.get(node.name)
            if m is not None and len(m.params) != len(node.args) and _builtin_takes(node.name, len(node.args)):
                return None  # `macro cpu(x)` leaves `cpu()` to the builtin (bpftrace overloads by arity)
            return m
        if isinstance(node, ast.Identifier):
            m = self.macros.get(node.name)
            return m if m is not None and not m.params else None
        return None

    def expand(self, call: ast.Expr) -> ast.Block | None:
        macro = self.macro_for(call)
        assert macro is not None
        args = call.args if isinstance(call, ast.Call) else []
        if macro.name in self.stack or len(self.stack) >= MAX_DEPTH:
            self.error(f"Recursive macro call detected: {macro.name}", call)
            return None
        if not self.arguments_match(macro, args, call):
            return None
        self.count += 1
        body = clone(macro.body)
        self.substitute(body, macro, args, f"__{macro.name}{self.count}")
        self.stack.append(macro.name)
        self.block(body)  # macros used inside the macro
        self.stack.pop()
        _mark_expanded(body, call)
        return body

    def arguments_match(self, macro: ast.Macro, args: list[ast.Expr], call: ast.Expr) -> bool:
        if len(macro.params) != len(args):
            self.error(f"Call to {macro.name}() has arguments that do not match any definition.", call,
                       [f"The closest definition of {macro.name}() has a different number of arguments. "
                        f"Expected: {len(macro.params)} but got {len(args)}"])
            return False
        ok = True
        for param, arg in zip(macro.params, args):
            want = {ast.Variable: "a variable", ast.Map: "a map"}.get(type(param))
            if want is None or isinstance(arg, type(param)) and not (isinstance(arg, ast.Map) and arg.keys):
                continue
            got = {ast.Variable: "a variable", ast.Map: "a map"}.get(type(arg), "an expression")
            self.error(f"Mismatched arg. {macro.name}() expects {want} for arg {param.name} but got {got}.", arg)
            ok = False
        return ok

    def substitute(self, body: ast.Block, macro: ast.Macro, args: list[ast.Expr], suffix: str) -> None:
        variables = {p.name: a.name for p, a in zip(macro.params, args) if isinstance(p, ast.Variable)}
        maps = {p.name: a.name for p, a in zip(macro.params, args) if isinstance(p, ast.Map)}
        exprs = {p.name: a for p, a in zip(macro.params, args) if isinstance(p, ast.Identifier)}

        def visit(node: ast.Node) -> None:
            for child in list(node.children()):
                if isinstance(child, ast.Identifier) and child.name in exprs:
                    node.replace_child(child, clone(exprs[child.name]))
                    continue
                if isinstance(child, ast.TypeName) and isinstance(exprs.get(child.name), ast.TypeName):
                    # `(a *)x` with a typeof argument for a
                    arg = exprs[child.name]
                    node.replace_child(child, ast.TypeName(arg.name, arg.pointer + child.pointer, clone(arg.of),
                                                           span=child.span))
                    continue
                if isinstance(child, ast.VarDecl) and child.var.name in variables:
                    self.error(f"Variable declaration shadows macro arg {child.var.name}", child)
                if isinstance(child, ast.Variable):
                    child.name = variables.get(child.name, child.name + suffix)
                elif isinstance(child, ast.Map):
                    if child.name in maps:
                        child.name = maps[child.name]
                    else:
                        self.error(f"Unhygienic access to map: {child.name}. "
                                   f"Maps must be passed into the macro as arguments.", child)
                visit(child)

        visit(body)


def expand_macros(ctx: CompileContext) -> None:
    program = ctx.program
    if program is None or not program.macros:
        return
    macros: dict[str, ast.Macro] = {}
    for m in program.macros:
        if m.name in macros:
            ctx.diags.error(f"Redefinition of macro: {m.name}", m.span)
            continue
        macros[m.name] = m
    expander = _Expander(ctx, macros)
    for probe in program.probes:
        hoisted: list[ast.Stmt] = []
        if probe.predicate is not None:
            probe.predicate = expander.expr(probe.predicate, hoisted)  # type: ignore[assignment]
            if hoisted:
                ctx.diags.error("Macros used in a predicate must be single expressions", probe.predicate)
        expander.block(probe.block)
