"""Limits on the size of a program, checked right after parsing.

The later passes walk the AST recursively, and the BPF programs they emit
have a fixed budget (512 bytes of stack, a verifier limit on instructions).
A program past one of these limits gets one diagnostic naming the limit, at
the node that crossed it, instead of a Python RecursionError or an LLVM abort
later on. Each limit is far above what real scripts use (bpftrace's tools
nest at most ~10 levels).
"""

from __future__ import annotations

from pytrace.lang import ast
from pytrace.lang.context import CompileContext

MAX_NESTING = 300          # AST levels: statements, blocks and expressions
MAX_STRING_LITERAL = 4096  # bytes of a string literal (a BPF program's stack is 512)
MAX_IDENTIFIER = 256       # characters of a variable, map, macro or function name
MAX_UNROLL_PRODUCT = 1000  # copies of a body made by nested unroll()s together
MAX_PROBES_HINT = ("You can increase the limit through the BPFTRACE_MAX_PROBES environment variable, but BE "
                   "CAREFUL since a high number of probes attached can cause your system to crash.")
MAX_STRLEN = 16384         # max_strlen (config or BPFTRACE_MAX_STRLEN): past it the BPF backend gives up or takes minutes


def check_limits(ctx: CompileContext) -> None:
    program = ctx.program
    if program is None:
        return
    # (node, depth, unroll copies around it), iteratively: the point is that
    # the program may be too deep for recursion.
    stack: list[tuple[ast.Node, int, int]] = [(program, 0, 1)]
    while stack:
        node, depth, copies = stack.pop()
        if depth > MAX_NESTING:
            ctx.diags.error(f"the program is nested too deeply (the limit is {MAX_NESTING} levels of "
                            "statements and expressions)", node.span)
            return
        problem = _node_problem(node)
        if problem:
            ctx.diags.error(problem, node.span)
            return
        if isinstance(node, ast.Unroll):
            copies *= max(_unroll_count(node), 1)
            if copies > MAX_UNROLL_PRODUCT:
                ctx.diags.error(f"nested unroll()s copy their body {copies} times (the limit is "
                                f"{MAX_UNROLL_PRODUCT})", node.span)
                return
        stack.extend((child, depth + 1, copies) for child in node.children())


def _unroll_count(node: ast.Unroll) -> int:
    return node.count.value if isinstance(node.count, ast.Integer) else 1


NAMED = (ast.Identifier, ast.Variable, ast.Map, ast.Call, ast.TypeName, ast.MapDecl, ast.Macro)


def _node_problem(node: ast.Node) -> str:
    if isinstance(node, ast.String) and len(node.value.encode(errors="surrogateescape")) > MAX_STRING_LITERAL:
        return f"string literal too long (the limit is {MAX_STRING_LITERAL} bytes)"
    if isinstance(node, NAMED) and len(node.name) > MAX_IDENTIFIER:
        return f"name too long (the limit is {MAX_IDENTIFIER} characters)"
    return ""


def check_probe_count(ctx: CompileContext) -> None:
    """bpftrace's max_probes (config or BPFTRACE_MAX_PROBES, 1024 by default):
    a wildcard such as `kprobe:*` matching more attach points is refused with
    the count, before any code is generated for them."""
    total = sum(len(unit.specs) for unit in ctx.units)
    if total > ctx.options.max_probes:
        widest = max(ctx.units, key=lambda unit: len(unit.specs))
        ctx.diags.error(f"Can't attach to {total} probes because it exceeds the current limit of "
                        f"{ctx.options.max_probes} probes.", widest.probe.span, [MAX_PROBES_HINT])
