"""Fold integer arithmetic on literals, as bpftrace's FoldLiterals pass does
before any type is known: `-7 / 2` becomes the literal -3 (C's truncating
division, arithmetic `>>` on a negative value), whereas the same operation
on values known only at run time is unsigned (`udiv`, `urem`, `lshr`: see
codegen/lower.py). A result outside [-2**63, 2**64) or a zero divisor is
bpftrace's "unable to fold" error. Comparisons and logical operators are
left to run time (their results are the same there)."""

from __future__ import annotations

from pytrace.lang import ast
from pytrace.lang.context import CompileContext

FLOW_ERROR = "unable to fold literals due to overflow or underflow"
_U64 = 1 << 64
_S64_MIN = -(1 << 63)
_S64_MAX = (1 << 63) - 1


def _wrap_signed(v: int) -> int:
    v &= _U64 - 1
    return v - _U64 if v > _S64_MAX else v


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - _c_div(a, b) * b


def _shift_left(a: int, b: int, signed: bool) -> int:
    return _wrap_signed(a << b) if signed else (a << b) % _U64


# op -> f(left, right, signed arithmetic) -> exact result, or None when bpftrace cannot fold it
_ARITH = {
    "+": lambda a, b, s: a + b,
    "-": lambda a, b, s: a - b,
    "*": lambda a, b, s: a * b,
    "/": lambda a, b, s: _c_div(a, b) if b else None,
    "%": lambda a, b, s: _c_mod(a, b) if b else None,
    "<<": lambda a, b, s: _shift_left(a, b, s) if 0 <= b < 64 else None,
    ">>": lambda a, b, s: a >> b if 0 <= b < 64 else None,
    "&": lambda a, b, s: a & b,
    "|": lambda a, b, s: a | b,
    "^": lambda a, b, s: a ^ b,
}


def fold_binop(op: str, left: int, right: int) -> int | None:
    """The folded value of `left op right` (both literals), or None when
    bpftrace refuses to fold it: overflow, a zero divisor, a value above
    INT64_MAX with a negative one."""
    signed = left < 0 or right < 0
    if signed and max(left, right) > _S64_MAX:
        return None
    result = _ARITH[op](left, right, signed)
    return result if result is not None and _S64_MIN <= result < _U64 else None


def _literal(node: ast.Node) -> int | None:
    """An integer literal's value (not an enumerator, which is resolved later)."""
    if isinstance(node, ast.Integer) and not (node.raw[:1].isalpha() or node.raw[:1] == "_"):
        return node.value
    return None


class _Folder:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx

    def visit(self, node: ast.Node) -> None:
        for child in list(node.children()):
            self.visit(child)
            new = self.fold(child)
            if new is not None:
                node.replace_child(child, new)

    def fold(self, node: ast.Node) -> ast.Integer | None:
        if isinstance(node, ast.Unop):
            value = _literal(node.operand)
            if value is None:
                return None
            if node.op == "-":
                if value > 1 << 63:
                    self.ctx.diags.error("negative value will underflow", node.span)
                    return None
                return ast.Integer(-value, span=node.span)
            if node.op == "~":
                return ast.Integer(~value % _U64, span=node.span)
            return None
        if isinstance(node, ast.Binop) and node.op in _ARITH:
            left, right = _literal(node.left), _literal(node.right)
            if left is None or right is None:
                return None
            result = fold_binop(node.op, left, right)
            if result is None:
                self.ctx.diags.error(FLOW_ERROR, node.span)
                return None
            return ast.Integer(result, span=node.span)
        return None


def fold_literals(ctx: CompileContext) -> None:
    if ctx.program is None:
        return
    folder = _Folder(ctx)
    for probe in ctx.program.probes:
        folder.visit(probe)
