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


def folded_with(expr: str, *params: str):
    ctx = run_passes(f"BEGIN {{ @r = {expr}; }}", "fold_literals", params=list(params))
    return flatten(ctx.program.probes[0].block.stmts[0].value)


@pytest.mark.parametrize("text, value", [
    ("123", 123), ("0775", 0o775), ("0x123", 0x123), ("0b101", 5), ("1_000", 1000), ("1e3", 1000),
    ("2ms", 2_000_000), ("0xffffffffffffffff", 2**64 - 1), ("-5", -5), ("0", 0),
])
def test_positional_numbers_in_bpftrace_s_bases(text, value):
    assert folded_with("$1", text) == ["Integer", value]


@pytest.mark.parametrize("text", ["hello", "12abc", "0x", "1e3x", "0xffffffffffffffffff", "-x"])
def test_positional_non_numbers_are_strings(text):
    assert folded_with("$1", text) == ["String", text]


def test_positional_count_and_missing_parameter():
    assert folded_with("$# + $3", "a", "b") == ["Integer", 2]


def test_str_of_literals_and_positionals_is_folded():
    assert folded_with('str($1 + 1)', "hello") == ["String", "ello"]
    assert folded_with('str($1)', "0x10") == ["String", "0x10"]
    assert folded_with('str(12)') == ["String", "12"]
    assert folded_with('str("abcdef", 3)') == ["String", "abc"]
    assert folded_with('"abc" + 1') == ["String", "bc"]
    assert folded_with('str(-3 * 2)') == ["String", "-6"]


def test_a_string_literal_past_its_end_warns():
    ctx = run_passes('BEGIN { @r = "ab" + 2; }', "fold_literals")
    assert [d.message for d in ctx.diags.warnings] == ["literal string will always be empty"]
