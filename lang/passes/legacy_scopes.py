"""Scripts written for older bpftrace (like Debian's 0.17 tools) assign a
scratch variable inside an `if`/`else` (or `while`, `unroll`) block and
read it after the block:
variables used to live for the whole probe. Current bpftrace scopes them to
their block and rejects this. To run those scripts unchanged, this pass
finds such variables and declares them at the start of the probe (as if the
script said `let $x;`), with a warning that says how to write it today.
"""

from __future__ import annotations

from pytrace.lang import ast
from pytrace.lang.context import CompileContext
from pytrace.lang.visitor import walk

Path = tuple[int, ...]


def _inside(path: Path, block: Path) -> bool:
    return path[: len(block)] == block


class _Finder:
    """Finds reads of a variable that no enclosing block has assigned yet,
    although some other (closed) block did: block scoping says "undefined",
    older bpftrace meant the probe-wide variable."""

    def __init__(self) -> None:
        self.assigned: dict[str, list[Path]] = {}  # blocks that assigned each variable so far
        self.declared: set[str] = set()  # names with an explicit `let` or a loop binding
        self.hoist: dict[str, ast.Variable] = {}
        self.for_assigned: dict[str, list[Path]] = {}  # blocks inside `for` bodies that assigned each variable

    def read(self, var: ast.Variable, path: Path) -> None:
        blocks = self.assigned.get(var.name)
        if not blocks or var.name in self.declared or any(_inside(path, b) for b in blocks):
            return
        if any(_inside(path, b) for b in self.for_assigned.get(var.name, [])):
            return  # assigned earlier in the same `for` body
        self.hoist.setdefault(var.name, var)

    def visit(self, node: ast.Node, path: Path, in_for: bool = False) -> None:
        if isinstance(node, ast.Block):
            path = path + (id(node),)
        # `for` loops came with block scoping: what they assign stays theirs.
        in_for = in_for or isinstance(node, ast.For)
        if isinstance(node, ast.Assign) and isinstance(node.target, ast.Variable) and node.op is None:
            self.visit(node.value, path, in_for)
            (self.for_assigned if in_for else self.assigned).setdefault(node.target.name, []).append(path)
            return
        if isinstance(node, ast.Variable):
            self.read(node, path)
        for child in node.children():
            self.visit(child, path, in_for)


def hoist_probe_variables(ctx: CompileContext) -> None:
    for unit in ctx.units:
        finder = _Finder()
        # A variable the probe declares anywhere (`let $x;`, a loop variable) is scoped as today.
        finder.declared = {n.var.name for n in walk(unit.probe.block) if isinstance(n, (ast.VarDecl, ast.For))}
        finder.visit(unit.probe.block, ())
        decls = []
        for name, var in finder.hoist.items():
            ctx.diags.warning(
                f"{name} is used outside the block that first assigns it: treating it as declared "
                f"at the start of the probe, as older bpftrace did",
                var.span, [f"declare it before the block to keep it working: let {name};"])
            decls.append(ast.VarDecl(ast.Variable(name, span=var.span), span=var.span))
        unit.probe.block.stmts[:0] = decls
