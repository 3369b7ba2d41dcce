"""End-to-end: current bpftrace syntax (block and if expressions, records,
tuple subscripts, `_ = expr;`, `?:`, typeof, #define values, imports,
positional parameters and short forms in attach points), with exact output."""

import os

import pytest

from conftest import run_begin, run_pytrace

pytestmark = pytest.mark.kernel


def test_block_and_if_expressions():
    r = run_begin('$x = { let $y = 2; $y + 1 }; $s = if ($x > 2) { "big" } else { "small" }; '
                  'print(($x, $s)); print({ $z = 1; print("side"); $z > 1 }); '
                  'print(if ($x) { if (0) { 1 } else { 2 } } else { 3 }); '
                  '@avg = { let $a = 100; avg($a) };')
    assert r.out == '(3, big)\nside\nfalse\n2\n\n\n@avg: 100\n', r


def test_records_text_and_json():
    prog = ('$v = (x = 1, y = 2); $t = (a = 0, b = 1, c = "str", d = (5, 6), e = $v); print($t); '
            'printf("%d %s %d\\n", $t.a, $t.c, $t.e.y); '
            '$o = (foo = { printf("1"); 1 }, bar = { printf("2"); 2 }); '
            '$o = (bar = { printf("3"); 3 }, foo = { printf("4\\n"); 4 }); print($o); '
            '@m[(k = 1, n = "a")] = (c = 2);')
    r = run_begin(prog)
    assert r.out == ('{ .a = 0, .b = 1, .c = str, .d = (5, 6), .e = { .x = 1, .y = 2 } }\n'
                     '0 str 2\n1234\n{ .foo = 4, .bar = 3 }\n\n\n@m[{ .k = 1, .n = a }]: { .c = 2 }\n'), r
    r = run_begin(prog, "-f", "json")
    assert r.out.splitlines()[-1] == '{"type": "map", "data": {"@m": {"{.k=1,.n=a}": {"c": 2}}}}', r


def test_tuple_subscript_discard_and_elvis():
    r = run_begin('$t = (1, "two", 3); _ = { print($t[1]); 0 }; $z = 0; print(($t[3 - 1], $z ?: 7, $t[0] ?: 8));')
    assert r.out == "two\n(3, 7, 1)\n\n\n", r


def test_typeof_and_defines():
    r = run_pytrace("-e", '#define RED "red"\n#define TWO (1 + 1)\n'
                    'macro cast_to(t, v) { (t)v } '
                    'BEGIN { let $a: typeof(uint8) = 255; $b = (typeof($a))257; '
                    'printf("%s %d %d %d %d\\n", RED, TWO * 3, $b, sizeof(typeof($a)), cast_to(typeof(int16), 70000)); '
                    'exit(); }')
    assert r.rc == 0, r
    assert r.out == "red 6 1 1 4464\n\n\n", r


def test_import(tmp_path):
    os.chmod(tmp_path, 0o755)
    (tmp_path / "helpers.bt").write_text('macro greet(who) { printf("hello %s\\n", who); }\n'
                                         'END { printf("bye\\n"); }\n')
    main = tmp_path / "main.bt"
    main.write_text('import "helpers.bt";\nBEGIN { greet("you"); exit(); }\n')
    r = run_pytrace(str(main))
    assert r.rc == 0 and r.out == "hello you\nbye\n\n\n", r
    r = run_pytrace("-e", 'import "missing.bt"; BEGIN { exit(); }')
    assert r.rc != 0 and r.err.startswith("stdin:1:1-20: ERROR: Unable to find suitable path for import\n"), r


def test_attach_point_parameters_and_short_forms():
    r = run_pytrace("-e", 'i:ms:$1 { printf("i\\n"); exit(); }', "1")
    assert r.rc == 0 and r.out.startswith("i\n"), r
    r = run_pytrace("-e", 'BEG$1 { printf("b\\n"); exit(); }', "IN")
    assert r.rc == 0 and r.out == "b\n\n\n", r
    r = run_pytrace("-e", '$1 { printf("%s\\n", probe); exit(); }', "i:10ms")
    assert r.rc == 0 and r.out.startswith("interval:us:10000\n"), r
    r = run_pytrace("-e", 'begin,end { printf("hello\\n"); exit(); }')
    assert r.rc == 0 and r.out == "hello\nhello\n\n\n", r
