"""End-to-end: control flow, scratch variables and their scopes, config
blocks and map declarations, on the live kernel with exact output."""

import pytest

from conftest import py_workload, run_begin, run_pytrace

pytestmark = pytest.mark.kernel

GETPPID_5 = py_workload("import os\nfor _ in range(5): os.getppid()")


def test_while_break_continue():
    r = run_begin('$i = 0; while ($i < 10) { $i++; if ($i == 2) { continue; } if ($i == 5) { break; } '
                  'printf("%d ", $i); } printf("end %d\\n", $i);')
    assert r.out == "1 3 4 end 5\n\n\n", r


def test_unroll_and_for_range():
    r = run_begin('$n = 0; unroll(3) { $n += 2; printf("u%d ", $n); } '
                  '$a = 3; for ($i : 0..$a) { $a--; printf("f%d ", $i); } '
                  'for ($j : 1..5) { if ($j == 2) { continue; } if ($j == 4) { break; } printf("j%d ", $j); } '
                  'printf("\\n");')
    assert r.out == "u2 u4 u6 f0 f1 f2 j1 j3 \n\n\n", r


def test_return_leaves_the_probe():
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @a = count(); "
                    "for ($i : 0..3) { if ($i == 1) { return; } @b = count(); } @c = count(); }", "-c", GETPPID_5)
    assert r.rc == 0, r
    assert r.out == "\n\n@a: 5\n@b: 5\n", r


def test_let_declarations_and_block_scopes():
    r = run_begin('let $x; let $y: uint8 = 7; let $s = "str"; printf("%d %d %s\\n", $x, $y, $s); '
                  'if (1) { $z = 1; printf("then %d\\n", $z); } else { $z = "other"; printf("%s\\n", $z); } '
                  'for ($i : 0..2) { $t = $i * 10; printf("%d ", $t); } '
                  'for ($i : 0..1) { $t = "again"; printf("%s\\n", $t); }')
    assert r.out == "0 7 str\nthen 1\n0 10 again\n\n\n", r


def test_ternary_and_increments_on_maps():
    r = run_begin('@m++; @m++; @m += 5; @m -= 1; @k[1]++; @k[1] += 10; --@k[2]; $v = @m > 5 ? "big" : "small"; '
                  'printf("%s %d\\n", $v, @m > 5 ? @m : 0);')
    assert r.out == "big 6\n\n\n@k[2]: -1\n@k[1]: 11\n@m: 6\n", r


def test_config_block_max_strlen():
    code = "open('/etc/hostname').close()"
    r = run_pytrace("-e", "config = { max_strlen = 5 } tracepoint:syscalls:sys_enter_openat /pid == cpid/ "
                    '{ printf("%s\\n", str(args->filename)); }', "-c", py_workload(code))
    assert r.rc == 0, r
    assert "/etc/..\n" in r.out and "/etc/hostname" not in r.out, r  # truncated: bpftrace's trailer


def test_env_max_strlen_wins_over_config():
    code = "open('/etc/hostname').close()"
    r = run_pytrace("-e", "config = { max_strlen = 5 } tracepoint:syscalls:sys_enter_openat /pid == cpid/ "
                    '{ printf("%s\\n", str(args->filename)); }', "-c", py_workload(code),
                    env={"BPFTRACE_MAX_STRLEN": "9", "BPFTRACE_STR_TRUNC_TRAILER": "~"})
    assert r.rc == 0, r
    assert "/etc/host~\n" in r.out, r


def test_max_map_keys_and_map_full_warning_once():
    r = run_pytrace("-e", "config = { max_map_keys = 2 } "
                    "BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; @m[4] = 4; @n = 1; exit(); }")
    assert r.rc == 0, r
    assert r.out == "\n\n@m[1]: 1\n@m[2]: 2\n@n: 1\n", r
    assert r.err == (
        "Attached 1 probe\n"
        "stdin:1:61-66: WARNING: Map full; can't update element. Try increasing max_map_keys config or manually "
        "setting the max entries in a map declaration e.g. `let @a = hash(5000)`\n"
        "Additional Info - helper: map_update_elem, retcode: -7\n"
        "config = { max_map_keys = 2 } BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; @m[4] = 4; @n = 1; exit(); }\n"
        "                                                            ~~~~~\n"
            "WARNING: map @m was full (2 keys): 2 updates dropped\n"), r


def test_env_max_map_keys():
    r = run_pytrace("-e", "BEGIN { @m[1] = count(); @m[2] = count(); exit(); }", env={"BPFTRACE_MAX_MAP_KEYS": "1"})
    assert r.rc == 0, r
    assert r.out == "\n\n@m[1]: 1\n", r
    assert "WARNING: Map full" in r.err


def test_map_declarations():
    r = run_pytrace("-e", "let @h = hash(2); let @l = lruhash(2); let @p = percpuhash(2); let @q = percpulruhash(2); "
                    "BEGIN { @h[1] = 1; @h[2] = 2; @h[3] = 3; @l[1] = 1; @l[2] = 2; @l[3] = 3; "
                    "@p[1] = count(); @p[1] = count(); @q[1] = sum(5); exit(); }")
    assert r.rc == 0, r
    assert r.out.startswith("\n\n@h[1]: 1\n@h[2]: 2\n"), r
    assert "@l[3]: 3\n" in r.out and "@p[1]: 2\n@q[1]: 5\n" in r.out, r
    assert r.out.count("@l[") == 2, r
    assert r.err.count("Map full") == 1, r


def test_for_over_a_map_with_outer_variables_and_len():
    r = run_begin('@m[1] = 10; @m[2] = 20; @m[3] = 30; $sum = 0; $seen = 0; '
                  'for ($kv : @m) { $sum += $kv.1; $seen++; if ($kv.0 == 2) { continue; } @keys[$kv.0] = $kv.1 * 2; } '
                  'printf("sum %d seen %d len %d %d\\n", $sum, $seen, len(@m), len(@keys)); '
                  'for ($kv : @m) { if ($seen == 3) { break; } printf("never\\n"); } clear(@m);')
    assert r.out == "sum 60 seen 3 len 3 2\n\n\n@keys[1]: 20\n@keys[3]: 60\n", r


def test_for_over_a_map_with_tuple_keys_and_strings():
    r = run_begin('@m[7, "seven"] = "siete"; for ($kv : @m) { printf("%d %s %s\\n", $kv.0.0, $kv.0.1, $kv.1); } '
                  'clear(@m);')
    assert r.out == "7 seven siete\n\n\n", r


def test_return_inside_a_map_loop_leaves_the_probe():
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @m[comm] = 1; @before = count(); "
                    "for ($kv : @m) { return; } @after = count(); } "
                    "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { "
                    "for ($kv : @m) { printf(\"%s %d\\n\", $kv.0, args->__syscall_nr > 0); } }",
                    "-c", py_workload("import os\nos.getppid()"))
    assert r.rc == 0, r
    assert r.out.startswith("python"), r
    assert r.out.split(" ", 1)[1] == "1\n\n\n@before: 1\n" + r.out.split("\n\n\n", 1)[1].split("@before: 1\n", 1)[1], r
    assert "@after" not in r.out, r


MACROS = """
macro one() { 1 }
macro add_one(x) { x + 1 }
macro add_one_to_each($a, @b) { $a += 1; @b += 1; }
macro side_effects(x) { x; x; x; }
macro add_two(x) { add_one(x) + 1 }
macro twice_let(x) { let $t = x; $t * 2 }
BEGIN {
  print(one()); print(one);
  $a = 10; print(add_one($a)); print(add_one(1 + 1));
  @b = 5; add_one_to_each($a, @b); print($a + @b);
  side_effects(printf("hi")); printf("\\n");
  print(add_two(1));
  $t = 100; print(twice_let(21) + $t);
  exit();
}
"""


def test_macros_as_documented():
    r = run_pytrace("-e", MACROS)
    assert r.rc == 0, r
    assert r.out == "1\n1\n11\n3\n17\nhihihi\n3\n142\n\n\n@b: 6\n", r


def test_macro_in_a_predicate():
    r = run_pytrace("-e", "macro mine() { pid == cpid } tracepoint:syscalls:sys_enter_getppid /mine()/ "
                    "{ @ = count(); }", "-c", GETPPID_5)
    assert r.rc == 0, r
    assert r.out == "\n\n@: 5\n", r


def test_typed_variables_keep_their_width():
    r = run_begin('let $w: uint8; $w = 255; $w++; let $s: int8 = 127; $s++; let $u: uint32 = 5; $u -= 6; '
                  'printf("%d %d %u\\n", $w, $s, $u);')
    assert r.out == "0 -128 4294967295\n\n\n", r


def test_printing_tuples():
    r = run_begin('print((1, "a", (2, "b"))); $t = (3, "c"); print($t); @t[1] = (5, "x"); printf("%d %s\\n", $t.0, $t.1);')
    assert r.out == "(1, a, (2, b))\n(3, c)\n3 c\n\n\n@t[1]: (5, x)\n", r
