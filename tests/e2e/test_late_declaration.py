"""End-to-end: the `probe` builtin in begin/end; a variable assigned in blocks
and declared later with `let`; range loops as bpf_loop callbacks
keeps today's block scoping (no legacy hoisting): each block has its own."""

import pytest

from conftest import run_begin, run_pytrace

pytestmark = pytest.mark.kernel


def test_block_variables_then_a_later_declaration():
    r = run_begin("@m[7] = 7; if 1 { $v = 10; print(($v, 1)); } for $e : @m { $v = 20; print(($v, 2)); }"
                  " let $v; if 0 { $v = 30; } print(($v, 3)); delete(@m, 7);")
    assert r.out == "(10, 1)\n(20, 2)\n(0, 3)\n\n\n", r
    assert "WARNING" not in r.err, r


def test_probe_builtin_names_begin_and_end_in_lower_case():
    r = run_pytrace("-e", 'BEGIN { printf("%s", probe); } end { printf("-%s\\n", probe); }'
                    " interval:ms:200 { exit(); }")
    assert r.rc == 0, r
    assert r.out == "begin-end\n\n\n", r


def test_range_loops_with_bounds_known_only_at_run_time():
    r = run_begin("@n = 5; $s = 0; for $i : 0..@n { $s += $i; } print($s);"
                  ' for $i : -2..2 { if $i == 1 { continue; } printf("%d ", $i); } for $j : 5..1 { print($j); }'
                  " for $k : 0..@n { if $k == 3 { break; } print($k); } delete(@n);")
    assert r.out == "10\n-2 -1 0 0\n1\n2\n\n\n", r


def test_return_in_a_nested_loop_returns_from_the_probe():
    r = run_pytrace("-e", "BEGIN { for $i : 1..4 { for $j : 1..$i { print($j); if $j == 2 { return; } } }"
                    " print(99); } interval:ms:200 { exit(); }")
    assert r.rc == 0, r
    assert r.out == "1\n1\n2\n\n\n", r
