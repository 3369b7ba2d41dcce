"""Exact diagnostics for types: kernel structs, casts, indexing, sizeof /
offsetof, script struct definitions, enums, and integer sign warnings."""

import pytest

from conftest import fixture_options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source



def errors(program: str) -> str:
    with pytest.raises(CompileError) as exc:
        analyse(Source("stdin", program), fixture_options())
    return exc.value.diagnostics.render()


def warnings(program: str) -> str:
    ctx = analyse(Source("stdin", program), fixture_options())
    return ctx.diags.render()


def test_missing_struct_field():
    assert errors("BEGIN { print(curtask->nosuch); }") == (
        "stdin:1:15-30: ERROR: Struct/union of type 'struct task_struct' does not contain a field named 'nosuch'\n"
        "BEGIN { print(curtask->nosuch); }\n"
        "              ~~~~~~~~~~~~~~~\n")


def test_field_of_an_integer():
    assert errors("BEGIN { print(pid->x); }") == (
        "stdin:1:15-21: ERROR: Can not access field 'x' on expression of type 'uint32'\n"
        "BEGIN { print(pid->x); }\n"
        "              ~~~~~~\n")


def test_cast_to_unknown_struct():
    assert errors("BEGIN { $x = (struct nosuch *)0; }") == (
        'stdin:1:15-30: ERROR: Cannot resolve unknown type "struct nosuch"\n'
        "BEGIN { $x = (struct nosuch *)0; }\n"
        "              ~~~~~~~~~~~~~~~\n")


def test_cast_from_string():
    assert errors('BEGIN { $x = (uint32)"abc"; }') == (
        'stdin:1:14-27: ERROR: Cannot cast from "string" to "uint32"\n'
        'BEGIN { $x = (uint32)"abc"; }\n'
        "             ~~~~~~~~~~~~~\n")


def test_index_out_of_bounds():
    assert errors("BEGIN { print(curtask->comm[20]); }") == (
        "stdin:1:15-32: ERROR: the index 20 is out of bounds for array of size 16\n"
        "BEGIN { print(curtask->comm[20]); }\n"
        "              ~~~~~~~~~~~~~~~~~\n")


def test_index_with_a_string():
    assert errors('BEGIN { $p = (int8 *)0; print($p["a"]); }') == (
        "stdin:1:31-38: ERROR: The array index operator [] only accepts non-negative integer indices. Got: string\n"
        'BEGIN { $p = (int8 *)0; print($p["a"]); }\n'
        "                              ~~~~~~~\n")


def test_index_into_void_pointer():
    assert errors("BEGIN { $p = (void *)0; print($p[1]); }") == (
        "stdin:1:31-36: ERROR: The array index operator [] cannot be used on a pointer to an unsized type "
        "(void *).\n"
        "BEGIN { $p = (void *)0; print($p[1]); }\n"
        "                              ~~~~~\n")


def test_offsetof_missing_field():
    assert errors("BEGIN { print(offsetof(struct task_struct, se.nosuch)); }") == (
        "stdin:1:15-54: ERROR: 'struct sched_entity' has no field named 'nosuch'\n"
        "BEGIN { print(offsetof(struct task_struct, se.nosuch)); }\n"
        "              ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_unknown_identifier_is_not_an_enum():
    assert errors("BEGIN { print(NOSUCH_ENUM_VALUE); }") == (
        "stdin:1:15-32: ERROR: Unknown identifier: 'NOSUCH_ENUM_VALUE'\n"
        "BEGIN { print(NOSUCH_ENUM_VALUE); }\n"
        "              ~~~~~~~~~~~~~~~~~\n")


def test_script_struct_with_unknown_member_type():
    assert errors("struct foo { nosuch_t x; }\nBEGIN { exit(); }") == (
        'stdin:1:1-27: ERROR: Cannot resolve unknown type "nosuch_t"\n'
        "struct foo { nosuch_t x; }\n"
        "~~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_signed_division_warns_only_for_mixed_types():
    assert warnings("BEGIN { @x = (uint64)1; @y = -1 / @x; @z = @x / (uint64)1; @w = (uint64)10 % 2; }") == (
        "stdin:1:30-37: WARNING: signed operands for '/' can lead to undefined behavior "
        "(cast to unsigned to silence warning)\n"
        "BEGIN { @x = (uint64)1; @y = -1 / @x; @z = @x / (uint64)1; @w = (uint64)10 % 2; }\n"
        "                             ~~~~~~~\n")


def test_integer_promotion_types():
    ctx = analyse(Source("stdin", "BEGIN { $a = (uint32)5 + (uint8)3; $b = (uint64)1 - (uint64)2; "
                                  "$c = (int8)1 + (uint16)1; $d = pid + 1; $e = (uint8)1 << (int8)1; }"),
                  fixture_options())
    assert {k: str(v) for k, v in ctx.units[0].variables.items()} == {
        "$a": "uint64", "$b": "int64", "$c": "int64", "$d": "uint64", "$e": "uint64"}
