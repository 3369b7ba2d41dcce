"""`-d ast` and `-d types`: the tree, one node per line, indented."""

from __future__ import annotations

from pytrace.lang import ast


def _label(node: ast.Node, types: bool) -> str:
    parts = [type(node).__name__]
    for f in ast.tree_fields(node):  # not the passes' annotations
        value = getattr(node, f.name)
        if isinstance(value, (str, int, bool)) and not isinstance(value, ast.Node):
            parts.append(repr(value) if isinstance(value, str) else str(value))
    if types and isinstance(node, ast.Expr) and node.type is not None:
        parts.append(f":: {node.type}")
    return " ".join(parts)


def dump_ast(node: ast.Node, types: bool = False) -> str:
    lines: list[str] = []

    def walk(n: ast.Node, depth: int) -> None:
        lines.append("  " * depth + _label(n, types))
        for child in n.children():
            walk(child, depth + 1)

    walk(node, 0)
    return "\n".join(lines) + "\n"
