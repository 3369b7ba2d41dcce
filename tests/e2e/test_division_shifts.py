"""End-to-end: `/`, `%` and `>>` as bpftrace lowers them, and positional
parameters folded as literals. Literals are folded
when compiling with C's signed semantics; values known only at run time are
divided and shifted as unsigned 64-bit numbers (udiv, urem, lshr), even when
their type is signed, so -7 / 2 at run time prints 9223372036854775804."""

import pytest

from conftest import run_begin

pytestmark = pytest.mark.kernel


def test_literals_are_folded_signed():
    r = run_begin("print(-7 / 2); print(-8 >> 1); print(-7 % 2); print(10 % -3); print(~0);")
    assert r.out == "-3\n-4\n-1\n1\n18446744073709551615\n\n\n", r
    assert "WARNING" not in r.err, r


def test_run_time_values_are_divided_and_shifted_unsigned():
    r = run_begin("$a = -7; $b = 2; $c = -8; print($a / $b); print($a % $b); print($c >> 1);"
                  " print($c >> 63); print($c << 1); print((uint64)$c >> 60); print($b / $b);")
    assert r.out == "9223372036854775804\n1\n9223372036854775804\n1\n-16\n15\n1\n\n\n", r
    assert "WARNING" not in r.err, r


def test_mixed_signedness_division_warns():
    r = run_begin("$a = (uint64)8; $b = -2; print($a / $b);")
    assert r.out == "0\n\n\n", r
    assert "WARNING: signed operands for '/' can lead to undefined behavior" in r.err, r


def test_positional_parameters_fold_like_literals():
    r = run_begin('printf("%s|%d %o 0x%x|%s|%lu|%d\\n", str($1 + 1), $2, $3, $4, str($4), $5, $6 / 2);',
                  "hello", "123", "0775", "0x123", "0xffffffffffffffff", "-7")
    assert r.out == "ello|123 775 0x123|0x123|18446744073709551615|-3\n\n\n", r
