"""Exact diagnostics for scopes, config blocks, map declarations and the
string/map/user-space builtins."""

import pytest

from conftest import fixture_options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def errors(program: str, **options) -> str:
    with pytest.raises(CompileError) as exc:
        analyse(Source("stdin", program), fixture_options(**options))
    return exc.value.diagnostics.render()


def warnings(program: str, **options) -> str:
    ctx = analyse(Source("stdin", program), fixture_options(**options))
    return ctx.diags.render()


def test_variable_used_outside_its_block():
    assert errors("BEGIN { if (1) { let $y = 1; } print($y); }") == (
        "stdin:1:38-40: ERROR: Undefined or undeclared variable: $y\n"
        "BEGIN { if (1) { let $y = 1; } print($y); }\n"
        "                                     ~~\n")


def test_assigned_variable_is_scoped_too():
    assert errors("BEGIN { for ($i : 0..2) { $t = $i; } print($t); }") == (
        "stdin:1:44-46: ERROR: Undefined or undeclared variable: $t\n"
        "BEGIN { for ($i : 0..2) { $t = $i; } print($t); }\n"
        "                                           ~~\n")


def test_redeclaration_is_shadowing():
    assert errors("BEGIN { let $x = 1; if (1) { let $x = 2; } }") == (
        "stdin:1:30-40: ERROR: Variable $x was already declared. Variable shadowing is not allowed.\n"
        "BEGIN { let $x = 1; if (1) { let $x = 2; } }\n"
        "                             ~~~~~~~~~~\n")


def test_loop_variable_shadows():
    assert errors("BEGIN { $i = 1; for ($i : 0..2) { } }") == (
        "stdin:1:22-24: ERROR: Loop declaration shadows existing variable: $i\n"
        "BEGIN { $i = 1; for ($i : 0..2) { } }\n"
        "                     ~~\n")


def test_sibling_blocks_may_reuse_a_name_with_another_type():
    warnings('BEGIN { if (1) { $a = 1; } else { $a = "s"; } }')


def test_unknown_and_renamed_config():
    assert errors("config = { foo = 1; strlen = 2 } BEGIN { }") == (
        "stdin:1:12-19: ERROR: foo: not a known configuration option\n"
        "config = { foo = 1; strlen = 2 } BEGIN { }\n"
        "           ~~~~~~~\n"
        "stdin:1:21-31: ERROR: strlen: key has been renamed to 'max_strlen'\n"
        "config = { foo = 1; strlen = 2 } BEGIN { }\n"
        "                    ~~~~~~~~~~\n")


def test_config_names_in_env_form_apply():
    ctx = analyse(Source("stdin", "config = { BPFTRACE_MAX_MAP_KEYS = 7; MAX_STRLEN = 9 } BEGIN { }"), fixture_options())
    assert (ctx.options.max_map_keys, ctx.options.max_strlen) == (7, 9)


def test_incompatible_map_declaration():
    assert errors("let @a = percpuhash(10); BEGIN { @a = 1; }") == (
        "stdin:1:34-36: ERROR: Incompatible map types. Type from declaration: percpuhash. "
        "Type from value/key type: hash\n"
        "let @a = percpuhash(10); BEGIN { @a = 1; }\n"
        "                                 ~~\n")


def test_unused_map_declaration_warns():
    assert warnings("let @a = hash(10); BEGIN { }") == (
        "stdin:1:1-19: WARNING: Unused map: @a\n"
        "let @a = hash(10); BEGIN { }\n"
        "~~~~~~~~~~~~~~~~~~\n")


def test_unsafe_functions_need_unsafe():
    assert errors('BEGIN { system("ls"); }') == (
        "stdin:1:9-21: ERROR: system() is an unsafe function\n"
        'BEGIN { system("ls"); }\n'
        "        ~~~~~~~~~~~~\n"
        "HINT: Run with --unsafe to allow it\n")
    warnings('BEGIN { system("ls"); signal(9); }', unsafe=True)


def test_string_function_argument_types():
    assert errors("BEGIN { $x = strlen(1); }") == (
        "stdin:1:21-22: ERROR: strlen() expects a string argument (int64 provided)\n"
        "BEGIN { $x = strlen(1); }\n"
        "                    ~\n")
    assert errors('BEGIN { $x = strncmp("a", "b", pid); }') == (
        "stdin:1:32-35: ERROR: strncmp() the third argument must be an integer literal\n"
        'BEGIN { $x = strncmp("a", "b", pid); }\n'
        "                               ~~~\n")


def test_has_key_on_a_scalar_map():
    assert errors("BEGIN { @s = 1; if (has_key(@s, 1)) { } }") == (
        "stdin:1:21-35: ERROR: call to has_key() expects a map with explicit keys (non-scalar map)\n"
        "BEGIN { @s = 1; if (has_key(@s, 1)) { } }\n"
        "                    ~~~~~~~~~~~~~~\n")


def test_map_key_mismatches_name_the_key_types_as_bpftrace_does():
    assert errors('BEGIN { @g[1, "hi"] = 2; $x = has_key(@g, (1, 2)); }') == (
        "stdin:1:43-49: ERROR: Argument mismatch for @g: trying to access with arguments: '(int8,int8)' "
        "when map expects arguments: '(int8,string[3])'\n"
        'BEGIN { @g[1, "hi"] = 2; $x = has_key(@g, (1, 2)); }\n'
        "                                          ~~~~~~\n")
    assert "trying to access with arguments: 'string[5]' when map expects arguments: 'int8'" in \
        errors('BEGIN { @x[1] = 1; print(@x["asdf"]); }')
    assert "trying to access with arguments: 'int8' when map expects arguments: '(int8,int8)'" in \
        errors('BEGIN { @x[1, 2] = 1; @x[3] = 1; }')


def test_delete_on_the_wrong_kind_of_map():
    assert "ERROR: call to delete() with a single argument expects a map without explicit keys (scalar map)" in \
        errors("BEGIN { @a[1] = 1; delete(@a); }")
    assert "ERROR: call to delete() with two arguments expects a map with explicit keys (non-scalar map)" in \
        errors("BEGIN { @a = 1; delete(@a, 1); }")


def test_time_and_strftime_need_literals():
    assert errors('BEGIN { $f = "x"; time($f); }') == (
        "stdin:1:24-26: ERROR: time() expects a string literal\n"
        'BEGIN { $f = "x"; time($f); }\n'
        "                       ~~\n")
    assert errors('BEGIN { printf("%s", strftime("%H", -1)); }') == (
        "stdin:1:37-39: ERROR: strftime() timestamp must be non-negative\n"
        'BEGIN { printf("%s", strftime("%H", -1)); }\n'
        "                                    ~~\n")


def test_buffer_only_prints_with_r():
    assert errors('BEGIN { printf("%d", buf("ab", 2)); }') == (
        "stdin:1:9-35: ERROR: printf: unsupported format specifier for type 'buffer[2]': d\n"
        'BEGIN { printf("%d", buf("ab", 2)); }\n'
        "        ~~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_for_over_an_aggregation_map():
    assert errors("BEGIN { @c[1] = hist(1); for ($kv : @c) { } }") == (
        "stdin:1:37-39: ERROR: Loop expression does not support type: hist_t\n"
        "BEGIN { @c[1] = hist(1); for ($kv : @c) { } }\n"
        "                                    ~~\n")


def test_for_over_a_map_without_keys():
    assert errors("BEGIN { @c = 1; for ($kv : @c) { } }") == (
        "stdin:1:28-30: ERROR: for loops need a map with keys: @c has none\n"
        "BEGIN { @c = 1; for ($kv : @c) { } }\n"
        "                           ~~\n")


def test_macro_diagnostics():
    text = "macro bad() { @x++ } macro w($x) { $x++ } BEGIN { @x = 1; bad(); w(@x); w(1 + 1); w(); }"
    assert errors(text) == (
        "stdin:1:15-17: ERROR: Unhygienic access to map: @x. Maps must be passed into the macro as arguments.\n"
        f"{text}\n"
        "              ~~\n"
        "stdin:1:68-70: ERROR: Mismatched arg. w() expects a variable for arg $x but got a map.\n"
        f"{text}\n"
        "                                                                   ~~\n"
        "stdin:1:75-80: ERROR: Mismatched arg. w() expects a variable for arg $x but got an expression.\n"
        f"{text}\n"
        "                                                                          ~~~~~\n"
        "stdin:1:83-86: ERROR: Call to w() has arguments that do not match any definition.\n"
        f"{text}\n"
        "                                                                                  ~~~\n"
        "HINT: The closest definition of w() has a different number of arguments. Expected: 1 but got 0\n")


def test_recursive_and_redefined_macros():
    assert errors("macro r() { r() } BEGIN { r(); }") == (
        "stdin:1:13-16: ERROR: Recursive macro call detected: r\n"
        "macro r() { r() } BEGIN { r(); }\n"
        "            ~~~\n")
    assert errors("macro a() { 1 } macro a() { 2 } BEGIN { }") == (
        "stdin:1:17-32: ERROR: Redefinition of macro: a\n"
        "macro a() { 1 } macro a() { 2 } BEGIN { }\n"
        "                ~~~~~~~~~~~~~~~\n")


def test_macro_variables_are_hygienic():
    assert errors("macro m() { $inner = 1; } BEGIN { m(); print($inner); }") == (
        "stdin:1:46-52: ERROR: Undefined or undeclared variable: $inner\n"
        "macro m() { $inner = 1; } BEGIN { m(); print($inner); }\n"
        "                                             ~~~~~~\n")
