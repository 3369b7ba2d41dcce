"""Fold literals, as bpftrace's FoldLiterals pass does before any type is
known. Positional parameters become literals first (`$1` is an integer when
it reads as one in bpftrace's bases, `0x10`, `0775`, `0b1`, `1_000`, `1e3`,
else a string); `str(...)` of a literal is that string (`str($1 + 1)` with
$1 "hello" is "ello", as `"hello" + 1` is). Integer arithmetic on literals
is folded too: `-7 / 2` becomes the literal -3 (C's truncating
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


_SUFFIXES = {"": 1, "u": 1, "ul": 1, "ull": 1, "l": 1, "ll": 1, "ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9,
             "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}
_SUFFIX_MAX = {"u": 2**32 - 1, "l": 2**63 - 1, "ll": 2**63 - 1}
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def parse_uint(text: str) -> int | None:
    """An unsigned integer as bpftrace reads one (util::to_uint): `0x`, `0b`
    and a leading 0 pick the base, `_` separates digits, `1e3` is 1000, and
    a suffix types (`u`, `ul`...) or scales (`ms`, `s`...) it; None if not one."""
    n = text.replace("_", "")
    base = 10
    if n[:2] in ("0x", "0X"):
        base, n = 16, n[2:]
    elif n[:2] in ("0b", "0B"):
        base, n = 2, n[2:]
    elif len(n) >= 2 and n[0] == "0" and n[1] in "01234567":
        base, n = 8, n[1:]
    i = 0
    while i < len(n) and n[i] in _DIGITS[base]:
        i += 1
    if i == 0:
        return None
    value, rest = int(n[:i], base), n[i:]
    if rest[:1] in ("e", "E") and rest[1:2] in tuple("123456789"):
        if not 0 < value < 10:
            return None
        j = 1
        while j < len(rest) and rest[j].isdigit():
            j += 1
        value, rest = value * 10 ** int(rest[1:j]), rest[j:]
    if rest not in _SUFFIXES or value > _SUFFIX_MAX.get(rest, _U64 - 1) // _SUFFIXES[rest]:
        return None
    return value * _SUFFIXES[rest]


def positional_literal(params: list[str], node: ast.PositionalParam) -> ast.Expr:
    """`$N` as the literal bpftrace makes of it (0 when not given; `$#` the count)."""
    if node.index == 0:
        return ast.Integer(len(params), str(len(params)), span=node.span)
    value = params[node.index - 1] if node.index <= len(params) else ""
    if not value:
        return ast.Integer(0, "0", span=node.span)
    number = parse_uint(value[1:]) if value[0] == "-" else parse_uint(value)
    if number is None or (value[0] == "-" and number > 1 << 63):
        return ast.String(value, span=node.span)
    return ast.Integer(-number if value[0] == "-" else number, value, span=node.span)


def _param_text(params: list[str], node: ast.PositionalParam) -> ast.String:
    return ast.String(params[node.index - 1] if 0 < node.index <= len(params) else "", span=node.span)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _literal(node: ast.Node) -> int | None:
    """An integer literal's value (not an enumerator, which is resolved later)."""
    if isinstance(node, ast.Integer) and not (node.raw[:1].isalpha() or node.raw[:1] == "_"):
        return node.value
    return None


class _Folder:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx

    def visit(self, node: ast.Node) -> None:
        params = self.ctx.options.params
        if isinstance(node, ast.Call) and node.name == "str" and node.args:
            # str($1) and str($1 + n) take the parameter as text, even when it reads as a number
            arg = node.args[0]
            if isinstance(arg, ast.PositionalParam) and arg.index:
                node.args[0] = _param_text(params, arg)
            elif isinstance(arg, ast.Binop) and arg.op == "+" and isinstance(arg.left, ast.PositionalParam) \
                    and arg.left.index:
                arg.left = _param_text(params, arg.left)
        for child in list(node.children()):
            if isinstance(child, ast.PositionalParam):
                node.replace_child(child, positional_literal(params, child))
                continue
            self.visit(child)
            new = self.fold(child)
            if new is not None:
                node.replace_child(child, new)

    def fold(self, node: ast.Node) -> ast.Expr | None:
        if isinstance(node, ast.Call) and node.name == "str" and node.args:
            return self.fold_str(node)
        if isinstance(node, ast.Binop) and node.op == "+":
            text, other = (node.left, node.right) if isinstance(node.left, ast.String) else (node.right, node.left)
            if isinstance(text, ast.String) and isinstance(other, ast.Integer) and other.value >= 0:
                data = _utf8(text.value)
                if other.value >= len(data):
                    self.ctx.diags.warning("literal string will always be empty", node.span)
                return ast.String(_text(data[other.value:]), span=node.span)
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


    def fold_str(self, call: ast.Call) -> ast.String | None:
        """str() of a literal: the string itself, or an integer's digits."""
        arg = call.args[0]
        if isinstance(arg, ast.String):
            data = _utf8(arg.value)
        elif _literal(arg) is not None:
            data = str(arg.value).encode()
        else:
            return None
        if len(call.args) >= 2:
            limit = _literal(call.args[1])
            if limit is None or limit < 0:
                return None
            data = data[:limit]
        return ast.String(_text(data), span=call.span)


def fold_literals(ctx: CompileContext) -> None:
    if ctx.program is None:
        return
    folder = _Folder(ctx)
    for probe in ctx.program.probes:
        folder.visit(probe)
