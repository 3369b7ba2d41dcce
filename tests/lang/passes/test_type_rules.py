"""bpftrace's type rules for pointers, arrays, buffers, unary operators, casts,
enums and tuples (lang/passes/type_rules.py, asked by the type checker)."""

from conftest import pass_errors, run_passes
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.visitor import walk


def var_types(program: str) -> dict[str, T.Type]:
    return run_passes(program, "typecheck").units[0].variables


def test_pointer_arithmetic_keeps_the_pointer_type():
    v = var_types("BEGIN { $p = (int32 *)0x32; $a = $p + 1; $b = 2 + $p; $c = $p - 1; $d = $p; $d++; "
                  "$e = $p == $d; $f = $p < 100; $g = $p && 1; }")
    i32p = T.PointerType(T.S32, "kernel")
    assert [v[k] for k in "$a $b $c $d".split()] == [i32p] * 4
    assert [v[k] for k in "$e $f $g".split()] == [T.BOOL] * 3


def test_compound_assignment_and_increment_of_pointer_maps():
    ctx = run_passes("BEGIN { @p = (int16 *)0x32; @p += 3; @p--; @q = (struct task_struct *)0; @q -= 1; }",
                     "typecheck")
    assert ctx.maps["@p"].value_type == T.PointerType(T.S16, "kernel")
    assert ctx.maps["@q"].value_type.pointee.record_name == "struct task_struct"


def test_operators_pointers_do_not_take():
    assert pass_errors("BEGIN { $p = (int32 *)0; $a = 1 - $p; $b = $p * 2; $c = $p - $p; }", "typecheck") == (
        "stdin:1:31-37: ERROR: The - operator can not be used on expressions of types int64, int32 *\n"
        "BEGIN { $p = (int32 *)0; $a = 1 - $p; $b = $p * 2; $c = $p - $p; }\n"
        "                              ~~~~~~\n"
        "stdin:1:44-50: ERROR: The * operator can not be used on expressions of types int32 *, int64\n"
        "BEGIN { $p = (int32 *)0; $a = 1 - $p; $b = $p * 2; $c = $p - $p; }\n"
        "                                           ~~~~~~\n"
        "stdin:1:57-64: ERROR: The - operator can not be used on expressions of types int32 *, int32 *\n"
        "BEGIN { $p = (int32 *)0; $a = 1 - $p; $b = $p * 2; $c = $p - $p; }\n"
        "                                                        ~~~~~~~\n")


def test_comparing_pointers_to_different_types_warns():
    ctx = run_passes("BEGIN { $a = (int32 *)0; $b = (int8 *)0; if ($a == $b) { } }", "typecheck")
    warnings = [d.message for d in ctx.diags.items if d.severity == "WARNING"]
    assert warnings == ["comparison of distinct pointer types: int32, int8"]


def test_unary_minus_and_not_keep_unsigned_values_unsigned():
    v = var_types("BEGIN { $u = (uint8)5; $a = -$u; $b = ~$u; $c = -(int8)5; $d = 0; $d = -$d; }")
    assert (v["$a"], v["$b"], v["$c"], v["$d"]) == (T.U64, T.U64, T.S64, T.S64)


def test_casts_to_and_from_integer_arrays():
    v = var_types('BEGIN { $a = (int8[8])12345; $b = (int8[])12345; $c = (uint8[])"hello"; '
                  '$d = (bool[2])(uint16)1; $e = (uint32)pton("127.0.0.1"); $f = (int16[])(int64)1; }')
    assert v["$a"] == T.ArrayType(T.S8, 8)
    assert v["$b"] == T.ArrayType(T.S8, 2)  # 12345 is an int16 literal
    assert v["$c"] == T.ArrayType(T.U8, 6)
    assert v["$d"] == T.ArrayType(T.BOOL, 2)
    assert v["$e"] == T.U32
    assert v["$f"] == T.ArrayType(T.S16, 4)


def test_casts_bpftrace_refuses():
    assert pass_errors('BEGIN { $a = (int8[2])(int64)1; $b = (uint64)pton("127.0.0.1"); '
                       '$c = (int32[])(int8)1; }', "typecheck") == (
        'stdin:1:14-31: ERROR: Cannot cast from "int64" to "int8[2]"\n'
        'BEGIN { $a = (int8[2])(int64)1; $b = (uint64)pton("127.0.0.1"); $c = (int32[])(int8)1; }\n'
        "             ~~~~~~~~~~~~~~~~~\n"
        'stdin:1:38-63: ERROR: Cannot cast from "uint8[4]" to "uint64"\n'
        'BEGIN { $a = (int8[2])(int64)1; $b = (uint64)pton("127.0.0.1"); $c = (int32[])(int8)1; }\n'
        "                                     ~~~~~~~~~~~~~~~~~~~~~~~~~\n"
        "stdin:1:70-86: ERROR: Cannot determine array size: the element size is incompatible with the "
        "cast integer size\n"
        'BEGIN { $a = (int8[2])(int64)1; $b = (uint64)pton("127.0.0.1"); $c = (int32[])(int8)1; }\n'
        "                                                                     ~~~~~~~~~~~~~~~~\n")


def test_array_and_buffer_comparisons():
    v = var_types('BEGIN { $a = pton("1.2.3.4"); $b = pton("1.2.3.5"); $e = $a == $b; '
                  '$x = buf("hi", 2); $f = $x != buf("bye", 3); }')
    assert (v["$e"], v["$f"]) == (T.BOOL, T.BOOL)
    assert pass_errors('BEGIN { $a = pton("1.2.3.4"); $b = pton("::1"); $e = $a == $b; $f = $a < $a; }',
                       "typecheck") == (
        "stdin:1:54-62: ERROR: Only arrays of same size support comparison operators.\n"
        'BEGIN { $a = pton("1.2.3.4"); $b = pton("::1"); $e = $a == $b; $f = $a < $a; }\n'
        "                                                     ~~~~~~~~\n"
        "stdin:1:54-62: ERROR: Only arrays of same sized integer support comparison operators.\n"
        'BEGIN { $a = pton("1.2.3.4"); $b = pton("::1"); $e = $a == $b; $f = $a < $a; }\n'
        "                                                     ~~~~~~~~\n"
        "stdin:1:69-76: ERROR: The < operator cannot be used on arrays.\n"
        'BEGIN { $a = pton("1.2.3.4"); $b = pton("::1"); $e = $a == $b; $f = $a < $a; }\n'
        "                                                                    ~~~~~~~\n")


def test_enumerators_and_enum_casts_have_the_enum_type():
    ctx = run_passes("enum Foo { ONE = 1, TWO, OTHER = 99 }; "
                     "BEGIN { $a = ONE; $b = (enum Foo)2; $c = ONE + 1; @m[TWO] = OTHER; $s = sizeof(ONE); }",
                     "typecheck")
    v = ctx.units[0].variables
    names = ((1, "ONE"), (2, "TWO"), (99, "OTHER"))
    assert v["$a"] == T.EnumType(64, False, "Foo", names)
    assert v["$b"] == T.EnumType(32, False, "Foo", names)
    assert v["$c"] == T.S64  # arithmetic: a plain integer
    assert ctx.maps["@m"].key_types == [T.EnumType(64, False, "Foo", names)]
    assert ctx.maps["@m"].value_type.layout()["enum"] == [[1, "ONE"], [2, "TWO"], [99, "OTHER"]]
    (size,) = [n for n in walk(ctx.program) if isinstance(n, ast.Sizeof)]
    assert size.value == 8


def test_casting_a_literal_outside_the_enum():
    assert pass_errors("enum Foo { ONE = 1 }; BEGIN { $b = (enum Foo)3; }", "typecheck") == (
        "stdin:1:36-47: ERROR: Enum: Foo doesn't contain a variant value of 3\n"
        "enum Foo { ONE = 1 }; BEGIN { $b = (enum Foo)3; }\n"
        "                                   ~~~~~~~~~~~\n")


def test_tuples_keep_their_integer_sizes():
    v = var_types('BEGIN { $t = ((int8)1, (int16)1, (int32)1); $u = (1, -2, 300, "ab"); $w = (1, 2); '
                  "$w = (100000, -3); }")
    assert v["$t"].size == 8
    assert v["$u"] == T.TupleType((T.S8, T.S8, T.S16, T.StringType(3)))
    assert v["$w"] == T.TupleType((T.S64, T.S8))  # 1 and 100000 need 64 bits, 2 and -3 one byte


def test_a_string_variable_has_its_widest_type_from_the_start():
    ctx = run_passes('BEGIN { $a = ("hi", 1); print($a); $a = ("hellolongstr", 2); }', "typecheck")
    (first,) = [n for n in walk(ctx.program) if isinstance(n, ast.Call) and n.name == "print"]
    assert first.args[0].type == T.TupleType((T.StringType(13), T.S8))


def test_struct_pointers_read_from_user_memory_point_into_user_memory():
    v = var_types("struct C { int *z[4]; int *p; } uprobe:/bin/sh:0x1000 { $c = (struct C *)arg0; "
                  "$a = $c->z[1]; $b = $c->p; }")
    assert v["$a"] == T.PointerType(T.S32, "user")
    assert v["$b"] == T.PointerType(T.S32, "user")


def test_script_structs_a_last_member_without_semicolon_and_commented_attributes():
    ctx = run_passes("struct A { int a; char c[3] }; struct B { int x; char y; } /* c */ __attribute__ /**/ "
                     "((packed)) BEGIN { $a = sizeof(struct A); $b = sizeof(struct B); }", "typecheck")
    (a, b) = [n.value for n in walk(ctx.program) if isinstance(n, ast.Sizeof)]
    assert (a, b) == (8, 5)


def test_script_structs_align_as_c_does_in_tuples():
    v = var_types("struct Foo { int m; int n; } struct Bar { char c[3]; } "
                  "BEGIN { $t = ((int32)1, *(struct Foo *)0); $u = ((int8)1, *(struct Bar *)0, (int16)2); }")
    assert (v["$t"].size, v["$u"].size) == (12, 6)


def test_strings_cast_only_to_wider_strings():
    v = var_types('BEGIN { $w = (string[10])"ab"; }')
    assert v["$w"] == T.StringType(10)
    assert pass_errors('BEGIN { $z = (string[2])"abc"; }', "typecheck") == (
        'stdin:1:14-30: ERROR: Cannot cast from "string" to "string"\n'
        'BEGIN { $z = (string[2])"abc"; }\n'
        "             ~~~~~~~~~~~~~~~~\n")


def test_declared_variables_of_struct_pointer_and_array_types():
    v = var_types("struct W { int a; } struct C { void *p; enum E { X = 1 } e; struct W w[2]; } "
                  "BEGIN { let $c: struct C *; let $w: struct W[2]; $c = (struct C *)0; $w = $c->w; $e = $c->e; }")
    assert v["$c"].pointee.record_name == "struct C"
    assert v["$c"].pointee.field("p").type == T.PointerType(None, "kernel")
    assert v["$w"] == T.ArrayType(v["$c"].pointee.field("w").type.elem, 2)
    assert v["$e"] == T.EnumType(32, False, "E", ((1, "X"),))


def test_tuples_indexed_like_arrays_with_a_constant_index():
    v = var_types('BEGIN { $a = (1, 2, "x"); $b = $a[1 + 1]; $c = $a[-1 + 1]; }')
    assert (v["$b"], v["$c"]) == (T.StringType(2), T.S8)
    assert pass_errors('BEGIN { $a = (1, 2); $i = 1; $b = $a[$i]; $c = $a[2]; }', "typecheck") == (
        "stdin:1:38-40: ERROR: The array index operator [] on a tuple needs an index known when compiling "
        "(integer literals only)\n"
        "BEGIN { $a = (1, 2); $i = 1; $b = $a[$i]; $c = $a[2]; }\n"
        "                                     ~~\n"
        "stdin:1:48-53: ERROR: Invalid tuple index: 2. Found 2 elements in tuple.\n"
        "BEGIN { $a = (1, 2); $i = 1; $b = $a[$i]; $c = $a[2]; }\n"
        "                                               ~~~~~\n")


def test_a_non_negative_literal_takes_the_type_of_what_it_is_assigned_to():
    ctx = run_passes("BEGIN { $a = 0; $a = (uint64)2; $b = (uint64)1; $b = 2; $c = (uint8)1; $c = 1000; "
                     "$d = 1; $d = -5; @m = 0; @m = (uint64)2; @n = (uint32)1; @n = 7; }", "typecheck")
    v = ctx.units[0].variables
    assert (v["$a"], v["$b"], v["$c"], v["$d"]) == (T.U64, T.U64, T.S64, T.S64)
    assert (ctx.maps["@m"].value_type, ctx.maps["@n"].value_type) == (T.U64, T.U64)


def test_only_plain_char_arrays_are_strings():
    v = var_types("struct A { char s[4]; __u8 y[4]; unsigned char u[2]; } "
                  "BEGIN { $a = (struct A *)0; $s = $a->s; $y = (int32)$a->y; $u = $a->u; }")
    # char s[4] is read as a string of 5 bytes, as bpftrace types a script's structs
    assert (v["$s"], v["$y"], v["$u"]) == (T.StringType(5), T.S32, T.ArrayType(T.U8, 2))


def test_variables_start_with_their_literals_type_and_widen():
    ctx = run_passes("BEGIN { $a = 1; $b = -1000; $c = 1; $c++; $d = (uint8)1; $d++; let $e: uint8 = 1; $e++; "
                     "$f = 100; $f = $f * 3; $g = 1; $s = sizeof($g); }", "typecheck")
    v = ctx.units[0].variables
    assert (v["$a"], v["$b"], v["$c"], v["$d"], v["$e"], v["$f"]) == (T.S8, T.S16, T.S64, T.U64, T.U8, T.S64)
    (size,) = [n for n in walk(ctx.program) if isinstance(n, ast.Sizeof)]
    assert size.value == 1


def test_a_tuple_variable_as_the_keys_of_a_map_with_several_keys():
    ctx = run_passes("BEGIN { @a[(int16)-1, ((int32)-2, 3)] = 10; $c = ((int8)-4, ((int16)-5, -6)); @a[$c] = 12; }",
                     "typecheck")
    assert ctx.maps["@a"].key_types == [T.S64, T.TupleType((T.S64, T.S8))]
