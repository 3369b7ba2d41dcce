"""Walking the AST, and dispatching on a node's class.

`walk` and `flatten` need no per-class code: they follow `tree_fields`
(lang/ast.py). Passes that handle each kind of node differently (the type
checker, the lowering to IR) name their methods `expr_<ClassName>` or
`stmt_<ClassName>` and look them up in a `dispatch_table`.
"""

from __future__ import annotations

from typing import Any, Callable

from pytrace.lang import ast


def dispatch_table(cls: type, prefix: str) -> dict[type, Callable[..., Any]]:
    """cls's methods named `prefix + ClassName`, by AST class:
    dispatch_table(TypeChecker, "expr_") -> {ast.Integer: TypeChecker.expr_Integer, ...}.

    Call an entry with the instance: `table[type(node)](self, node)`. A
    method whose suffix names no AST class is a mistake, reported here."""
    table: dict[type, Callable[..., Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, method in vars(klass).items():
            if name.startswith(prefix) and callable(method):
                node_class = getattr(ast, name[len(prefix):], None)
                if not (isinstance(node_class, type) and issubclass(node_class, ast.Node)):
                    raise TypeError(f"{cls.__name__}.{name}: {name[len(prefix):]} is not an AST class")
                table[node_class] = method
    return table


def walk(node: ast.Node):
    """Every node of a subtree, parents before children (iteratively: a deep
    program must not reach Python's recursion limit here)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(current.children())))


def flatten(node: Any) -> Any:
    """A subtree as nested lists, for one-line test assertions:
    Binop('+', Integer(1), Variable('$x')) -> ['Binop', '+', ['Integer', 1], ['Variable', '$x']].
    """
    if isinstance(node, list):
        return [flatten(n) for n in node]
    if not isinstance(node, ast.Node):
        return node
    out: list[Any] = [type(node).__name__]
    for f in ast.tree_fields(node):
        if f.name == "raw" and isinstance(node, ast.Integer):
            continue
        value = getattr(node, f.name)
        if value is None or value == []:
            continue
        out.append(flatten(value))
    return out
