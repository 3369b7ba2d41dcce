"""Visitors over the AST, pycparser-style.

`Visitor.visit(node)` calls `visit_<ClassName>(node)` when the subclass
defines it, and otherwise visits the node's children in order.
"""

from __future__ import annotations

from typing import Any

from pytrace.lang import ast


class Visitor:
    def visit(self, node: ast.Node) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.generic_visit(node)
        return method(node)

    def generic_visit(self, node: ast.Node) -> None:
        for child in node.children():
            self.visit(child)


def walk(node: ast.Node):
    """Every node of a subtree, parents before children."""
    yield node
    for child in node.children():
        yield from walk(child)


_SKIPPED_FIELDS = ("span", "type", "provider", "params")


def flatten(node: Any) -> Any:
    """A subtree as nested lists, for one-line test assertions:
    Binop('+', Integer(1), Variable('$x')) -> ['Binop', '+', ['Integer', 1], ['Variable', '$x']].
    """
    from dataclasses import fields

    if isinstance(node, list):
        return [flatten(n) for n in node]
    if not isinstance(node, ast.Node):
        return node
    out: list[Any] = [type(node).__name__]
    for f in fields(node):
        if f.name in _SKIPPED_FIELDS or (f.name == "raw" and isinstance(node, ast.Integer)):
            continue
        value = getattr(node, f.name)
        if value is None or value == []:
            continue
        out.append(flatten(value))
    return out
