"""Checks, messages and settings (lang/builtins_checks.py, lang/builtins_memory.py,
lang/passes/program_settings.py): compile-time diagnostics and the values decided
when compiling, for the fixture kernel."""

from conftest import pass_errors, run_passes

from pytrace.lang import ast
from pytrace.lang.builtins_checks import format_literals
from pytrace.lang.visitor import walk


def _calls(ctx, name):
    return [n for p in ctx.program.probes for n in walk(p) if isinstance(n, ast.Call) and n.name == name]


# ---------------------------------------------------------------- fail, static_assert, assert_str


def test_fail_is_an_error_at_the_call_with_the_formatted_message():
    assert pass_errors('BEGIN { fail("bad %d: %s", 3, "x"); }', "typecheck") == (
        'stdin:1:9-35: ERROR: bad 3: x\n'
        'BEGIN { fail("bad %d: %s", 3, "x"); }\n'
        '        ~~~~~~~~~~~~~~~~~~~~~~~~~~\n')


def test_fail_needs_literal_arguments():
    assert pass_errors('BEGIN { $x = 1; fail("bad %d", $x); }', "typecheck").startswith(
        "stdin:1:32-34: ERROR: fail() arguments must be literals\n")


def test_format_literals_like_printf():
    assert format_literals("%d|%5s|%-3d|%x|%s", [-7, "ab", 4, 255, True]) == "-7|   ab|4  |ff|true"


def test_static_assert_false_is_the_message_at_the_call():
    assert pass_errors('BEGIN { static_assert(sizeof(uint32) == 8, "not 8 bytes"); }', "typecheck") == (
        'stdin:1:9-58: ERROR: not 8 bytes\n'
        'BEGIN { static_assert(sizeof(uint32) == 8, "not 8 bytes"); }\n'
        '        ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n')


def test_static_assert_true_and_type_predicates():
    run_passes('BEGIN { $s = "a"; static_assert(is_str($s) && !is_ptr($s), "string"); }', "typecheck")


def test_static_assert_needs_a_compile_time_condition():
    assert pass_errors('BEGIN { static_assert(pid == 1, "x"); }', "typecheck").startswith(
        "stdin:1:23-31: ERROR: static_assert() expects a condition known at compile time\n")


def test_assert_str_accepts_string_likes_and_names_the_rest():
    run_passes('BEGIN { $s = "a"; assert_str($s); assert_str((int8 *)0); }', "typecheck")
    assert "string-like values must be either strings, arrays or pointers" in pass_errors(
        "BEGIN { assert_str(1); }", "typecheck")
    assert "string-like pointers must point to a char-like type" in pass_errors(
        "BEGIN { assert_str((uint32 *)0); }", "typecheck")


def test_assert_registers_bpftraces_message_as_an_errorf():
    ctx = run_passes('BEGIN { assert(1 == 2, "sums"); }', "typecheck")
    [fmt] = ctx.formats
    assert (fmt.kind, fmt.fmt) == ("errorf", "assert failed: %s")


# ---------------------------------------------------------------- errorf, warnf, debugf


def test_errorf_and_warnf_check_their_format_like_printf():
    assert pass_errors('BEGIN { errorf("%d %d", 1); }', "typecheck").startswith(
        "stdin:1:9-27: ERROR: errorf: not enough arguments for format string (1 supplied, 2 expected)\n")
    ctx = run_passes('BEGIN { warnf("%s", "a"); errorf("x"); }', "typecheck")
    assert [f.kind for f in ctx.formats] == ["warnf", "errorf"]


def test_calls_in_a_macro_know_where_they_were_expanded_from():
    ctx = run_passes('macro bad() { errorf("x"); } macro worse() { bad() } BEGIN { worse(); }', "typecheck")
    [call] = _calls(ctx, "errorf")
    assert [s.location() for s in call.expanded_from] == ["stdin:1:46-51", "stdin:1:62-69"]


def test_debugf_warns_and_has_bpf_trace_printks_limits():
    ctx = run_passes('BEGIN { debugf("%d %s", 1, "a"); }', "typecheck")
    assert [d.message for d in ctx.diags.warnings] == [
        "The debugf() builtin is not recommended for production use. "
        "For more information see bpf_trace_printk in bpf-helpers(7)."]
    assert "cannot use more than 3 conversion specifiers" in pass_errors(
        'BEGIN { debugf("%d %d %d %d", 1, 2, 3, 4); }', "typecheck")
    assert "Invalid format specifier for `debugf`: c" in pass_errors('BEGIN { debugf("%c", 1); }', "typecheck")
    assert "Type does not match format specifier: s" in pass_errors('BEGIN { debugf("%s", 1); }', "typecheck")


# ---------------------------------------------------------------- getopt and config


def _options(ctx):
    return {n: (o.kind, o.value, o.description) for n, o in ctx.program_options.items()}


def test_getopt_types_come_from_the_default():
    ctx = run_passes('BEGIN { print((getopt("a"), getopt("b", 5, "B"), getopt("c", -1), getopt("d", "x"), '
                     'getopt("e", true))); }', "typecheck")
    assert _options(ctx) == {"a": ("bool", False, ""), "b": ("unsigned", 5, "B"), "c": ("signed", -1, ""),
                             "d": ("string", "x", ""), "e": ("bool", True, "")}


def test_getopt_values_from_the_command_line():
    ctx = run_passes('BEGIN { print((getopt("a"), getopt("b", 5), getopt("c", -1), getopt("d", "x"), '
                     'getopt("e", true))); }', "typecheck",
                     named_params=["a", "b=0xffffffffffffffff", "c=-10", "d=bye", "e=Off"])
    assert {n: v for n, (_, v, _) in _options(ctx).items()} == {
        "a": True, "b": 2**64 - 1, "c": -10, "d": "bye", "e": False}
    assert [c.const_value for c in _calls(ctx, "getopt")[:3]] == [1, 2**64 - 1, 2**64 - 10]


def test_getopt_wrong_values_in_bpftraces_words():
    program = 'BEGIN { print((getopt("n", 1), getopt("s", "x"), getopt("b"))); }'
    assert pass_errors(program, "typecheck", named_params=["n=False"]) == (
        "ERROR: program command line option --n invalid integer (value: False)\n")
    assert pass_errors(program, "typecheck", named_params=["s"]) == (
        "ERROR: program command line option --s expects a string (value: true)\n")
    assert pass_errors(program, "typecheck", named_params=["b=maybe"]) == (
        "ERROR: program command line option --b expects a boolean (e.g. 'true') (value: maybe)\n")


def test_unexpected_options_and_help_list_the_programs_options():
    program = 'BEGIN { print((getopt("aa", 10, "Description of aa"), getopt("bb", 1), getopt("cc"))); }'
    assert pass_errors(program, "typecheck", named_params=["dd"]) == (
        "ERROR: unexpected program command line options: --dd\n"
        "HINT: expected program options: --cc: --bb: --aa\n")
    assert pass_errors(program, "typecheck", named_params=["help"]) == (
        "HINT: expected program options:\n--cc\n--bb\n--aa: Description of aa\n")
    assert pass_errors("BEGIN { }", "typecheck", named_params=["x"]) == (
        "ERROR: unexpected program command line options: --x\nHINT: no custom program options defined.\n")


def test_getopt_declarations_must_agree():
    assert "needs to have the same default value in all places it is used. Previous default value: 1" in (
        pass_errors('BEGIN { print((getopt("a", 1), getopt("a", 2))); }', "typecheck"))
    assert "Second argument to 'getopt' must be a string literal, integer literal, or a boolean literal." in (
        pass_errors('BEGIN { $x = 1; print(getopt("a", $x)); }', "typecheck"))


def test_config_reads_are_literals():
    ctx = run_passes('config = { max_strlen = 32 } BEGIN { @a = config().max_strlen; @b = config.stack_mode; '
                     '@c = __builtin_config.cpp_demangle; }', "program_settings")
    values = [n for n in walk(ctx.program.probes[0]) if isinstance(n, (ast.Integer, ast.String, ast.Boolean))]
    assert [v.value for v in values] == [32, "bpftrace", True]
    assert "Record does not contain a field named 'nope'" in pass_errors("BEGIN { @ = config().nope; }",
                                                                         "program_settings")


# ---------------------------------------------------------------- container_of, write_user, typeof


def test_container_of_is_the_members_offset_back():
    ctx = run_passes("struct Foo { int m; int n; } BEGIN { $f = (struct Foo *)0; $n = (int32 *)4; "
                     "$p = container_of($n, typeof(*$f), n); print($p->m); }", "typecheck")
    [call] = _calls(ctx, "container_of")
    assert call.const_value == 4 and call.type.pointee.name == "struct Foo"
    assert "'struct Foo' has no field named 'q'" in pass_errors(
        "struct Foo { int m; } BEGIN { $f = (struct Foo *)0; $p = container_of($f, typeof(*$f), q); }",
        "typecheck")


def test_write_user_needs_unsafe_in_bpftraces_words():
    program = 'BEGIN { $p = (uint8 *)0; write_user($p, "x", 1); }'
    assert "ERROR: write_user() is unsafe. To use you need the --unsafe flag" in pass_errors(program, "typecheck")
    run_passes(program, "typecheck", unsafe=True)


def test_typeof_is_only_a_type():
    assert "typeof() can only be used as a type" in pass_errors("BEGIN { print(typeof(1)); }", "typecheck")


def test_is_literal_of_tuples():
    ctx = run_passes('BEGIN { $a = 1; @x = is_literal((1, "a", -2)); @y = is_literal((1, $a)); }', "typecheck")
    assert [c.const_value for c in _calls(ctx, "is_literal")] == [1, 0]


SK_BUFF = "struct sk_buff { unsigned int len; unsigned char *data; } "


def test_skboutput_finds_the_data_and_len_of_struct_sk_buff():
    ctx = run_passes(SK_BUFF + 'kprobe:f { $r = skboutput("a.pcap", (struct sk_buff *)arg0, 64, 14); }',
                     "typecheck")
    [call] = _calls(ctx, "skboutput")
    assert call.type.name == "uint32" and call.arg_type.field("data").offset == 8
    assert "skboutput() expects a string literal as the file name" in pass_errors(
        SK_BUFF + 'kprobe:f { $p = "a"; $r = skboutput($p, (struct sk_buff *)arg0, 64, 14); }', "typecheck")


def test_a_missing_header_is_clangs_error_at_its_line_in_definitions_h():
    program = "struct Foo {\n int x;\n}\n#include <pytrace/no-such-header.h>\nBEGIN { }"
    assert pass_errors(program, "resolve") == (
        "definitions.h:5:10: fatal error: 'pytrace/no-such-header.h' file not found\n")
