"""Integer arithmetic on literals folded before typing, with bpftrace's C
semantics and its overflow error (lang/passes/fold_literals.py)."""

import pytest

from conftest import pass_errors, run_passes
from pytrace.lang.visitor import flatten


def folded(expr: str):
    ctx = run_passes(f"BEGIN {{ $x = 1; @r = {expr}; }}", "fold_literals")
    return flatten(ctx.program.probes[0].block.stmts[1].value)


@pytest.mark.parametrize("expr, value", [
    ("-7 / 2", -3), ("7 / -2", -3), ("-7 % 2", -1), ("10 % -3", 1), ("-10 % -3", -1),
    ("-8 >> 1", -4), ("0x8000000000000000 / 0xff", 36170086419038336), ("1 << 63", 1 << 63),
    ("0 - 1", -1), ("0 - 0x8000000000000000", -(1 << 63)), ("-1 * -1", 1), ("-5 & 3", 3),
    ("~0", 2**64 - 1), ("-(-3)", 3), ("(1 + 2) * -(4)", -12), ("0xffffffffffffffff / 1", 2**64 - 1),
])
def test_literal_arithmetic_is_folded_with_c_semantics(expr, value):
    assert folded(expr) == ["Integer", value]


def test_only_literals_are_folded():
    assert folded("$x / 2") == ["Binop", "/", ["Variable", "$x"], ["Integer", 2]]
    assert folded("(uint8)1 << 64")[0] == "Binop"
    assert folded("1 < 2") == ["Binop", "<", ["Integer", 1], ["Integer", 2]]


@pytest.mark.parametrize("expr", ["123 / 0", "-123 % 0", "0x8000000000000000 * 2", "0 - 0xffffffffffffffff",
                                  "1 << 64", "1 >> -1", "0x8000000000000000 + (-1)"])
def test_overflow_and_zero_divisors_are_bpftrace_s_error(expr):
    col = len("BEGIN { $x = 1; @r = ") + 1
    assert pass_errors(f"BEGIN {{ $x = 1; @r = {expr}; }}", "fold_literals") == (
        f"stdin:1:{col}-{col + len(expr)}: ERROR: unable to fold literals due to overflow or underflow\n"
        f"BEGIN {{ $x = 1; @r = {expr}; }}\n" + " " * (col - 1) + "~" * len(expr) + "\n")
