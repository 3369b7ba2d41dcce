"""End-to-end: bpftrace's type rules run in this kernel, with exact output:
pointer arithmetic scaled by the pointee, division by zero, casts between
integers, strings and integer arrays, array comparisons, enums printed by
name, unsigned unary minus, tuple layouts, out-of-bounds array indices."""

import pytest

from conftest import run_begin, run_pytrace

pytestmark = pytest.mark.kernel


def test_pointer_arithmetic_moves_by_pointees():
    r = run_begin("@a = (int8 *)0x32; @a += 1; @b = (int32 *)0x32; @b++; @c = (int64 *)0x32; @c -= 2;"
                  " @d = (int16 *)0x32; @n = 4; @d = @d - @n; $s = (struct task_struct *)0x100000;"
                  " print(($s + 2 == 0x100000 + 2 * sizeof(struct task_struct), $s > 0x100, $s - 1 < $s));")
    assert r.out == "(true, true, true)\n\n\n@a: 0x33\n@b: 0x36\n@c: 0x22\n@d: 0x2a\n@n: 4\n", r


def test_division_by_zero_warns_and_gives_one():
    prog = ("BEGIN { @one = 1; @zero = 0; print((uint64)10 / (uint64)@zero); print(7 % @zero); print(9 / @one);"
            " exit(); }")
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == "1\n1\n9\n\n\n@one: 1\n@zero: 0\n", r
    warning = ("WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. "
               "1 is being used as the result.")
    assert [line.split(": ", 1)[1] for line in r.err.splitlines() if "Divide" in line] == [warning, warning], r


def test_casts_between_integers_strings_and_integer_arrays():
    r = run_begin('print((int8[])"hi"); printf("%x\\n", (uint32)pton("127.0.0.1")); print((bool[2])(uint16)1);'
                  " print(((uint8[4])(uint32)0x01020304)[3]); print(((int8[])12345)[0]);"
                  ' $a = pton("1.2.3.4"); print(($a == pton("1.2.3.4"), $a != pton("1.2.3.4"), $a == pton("1.2.3.5")));'
                  ' $b = buf("hi", 2); print(($b == $b, $b != buf("bye", 3)));'
                  ' $w = (string[10])"ab"; $w = "123456789"; print(($w, sizeof((string[16])"xy")));')
    assert r.out == ("[104,105,0]\n100007f\n[true,false]\n1\n57\n(true, false, false)\n(true, true)\n"
                     "(123456789, 16)\n\n\n"), r


def test_enums_print_their_names():
    prog = ("enum Foo { ONE = 1, TWO = 2, OTHER = 99 }; BEGIN { @m[ONE] = TWO; @plain = ONE + 1; $x = 5;"
            ' printf("%d %s %s %s %-5s|\\n", ONE, ONE, (enum Foo)2, (enum Foo)$x, TWO); print((ONE, OTHER));'
            " print(sizeof(ONE)); exit(); }")
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == "1 ONE TWO 5 TWO  |\n(ONE, OTHER)\n8\n\n\n@m[ONE]: TWO\n@plain: 2\n", r


def test_unary_minus_of_an_unsigned_value_stays_unsigned():
    r = run_begin("$u = (uint8)5; $s = (int8)5; print((-$u, -$s, ~$u));")
    assert r.out == "(18446744073709551611, -5, 18446744073709551610)\n\n\n", r


def test_tuples_keep_their_integer_sizes():
    r = run_begin('$t = ((int8)1, (int16)1, (int32)1); $u = ((int8)-100, "abcdef", 3, (int64)-10, "abc");'
                  ' print((sizeof($t), sizeof($u))); print($u); $v = ("hi", 1); print($v); $v = ("a longer one", 2);'
                  " print($v); print(($u[1 + 1], $u[4], (7, (8, 9))[1][0]));")
    assert r.out == "(8, 32)\n(-100, abcdef, 3, -10, abc)\n(hi, 1)\n(a longer one, 2)\n(3, abc, 8)\n\n\n", r


def test_an_array_index_past_the_end_warns():
    r = run_begin('$a = pton("1.2.3.4"); $i = 7; $j = 2; print(($a[$j], $a[$i] >= 0));')
    assert r.out == "(3, true)\n\n\n", r
    assert "WARNING: Array access out of bounds. This can lead to unexpected results." in r.err, r


def test_literals_take_the_type_of_what_they_are_assigned_to():
    r = run_begin("$a = 0; $a = (uint64)-1; print($a); @m = 0; @m = (uint64)-3;")
    assert r.out == "18446744073709551615\n\n\n@m: 18446744073709551613\n", r


def test_variables_from_literals_and_increments():
    r = run_begin("$x = 1; $i = 0; while ($i < 300) { $i++; } $u = (uint8)255; $u++; let $t: uint8 = 255; $t++;"
                  " print((sizeof($x), $i, $u, $t, 10 / $x));")
    assert r.out == "(1, 300, 256, 0, 10)\n\n\n", r


def test_map_keys_from_a_tuple_with_casted_ints():
    r = run_begin("@a[(int16)-1, ((int32)-2, 3)] = 10; @a[5, (6, 7)] = 11; $c = ((int8)-4, ((int16)-5, -6));"
                  " @a[$c] = 12;")
    assert sorted(r.out.splitlines()) == ["", "", "@a[-1, (-2, 3)]: 10", "@a[-4, (-5, -6)]: 12", "@a[5, (6, 7)]: 11"], r
