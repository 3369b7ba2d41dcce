"""getopt() program options and config() reads, replaced before typing
(lang/passes/program_settings.py). The errors for wrong or unexpected
option values, in bpftrace's words: tests/lang/test_builtins_checks.py."""

from conftest import pass_errors, run_passes
from pytrace.lang.visitor import flatten


def value_of(expr: str, **options):
    ctx = run_passes(f"BEGIN {{ @r = {expr}; }}", "program_settings", **options)
    return flatten(ctx.program.probes[0].block.stmts[0].value)


def options_of(text: str, *params: str):
    ctx = run_passes(text, "program_settings", named_params=list(params))
    return {name: (o.kind, o.default, o.value) for name, o in ctx.program_options.items()}


def test_config_fields_become_literals():
    assert value_of("config().max_strlen") == ["Integer", 1024]
    assert value_of("config.max_strlen", max_strlen=64) == ["Integer", 64]
    assert value_of("__builtin_config.missing_probes") == ["String", "error"]
    assert value_of("config().print_maps_on_exit") == ["Boolean", True]


def test_unknown_config_field_is_bpftrace_s_error():
    assert pass_errors("BEGIN { @r = config().nope; }", "program_settings") == (
        "stdin:1:14-27: ERROR: Record does not contain a field named 'nope'\n"
        "BEGIN { @r = config().nope; }\n"
        "             ~~~~~~~~~~~~~\n")


def test_getopt_defaults_decide_the_option_kind():
    text = ('BEGIN { $a = getopt("flag"); $b = getopt("n", 5); $c = getopt("d", -2); '
            '$s = getopt("name", "x"); $t = getopt("on", true); }')
    assert options_of(text) == {"flag": ("bool", False, False), "n": ("unsigned", 5, 5), "d": ("signed", -2, -2),
                                "name": ("string", "x", "x"), "on": ("bool", True, True)}


def test_command_line_values_after_the_double_dash():
    text = 'BEGIN { $a = getopt("flag"); $b = getopt("n", 5); $c = getopt("d", -2); $s = getopt("name", "x"); }'
    assert options_of(text, "flag", "n=0x10", "d=-7", "name=y") == {
        "flag": ("bool", False, True), "n": ("unsigned", 5, 16), "d": ("signed", -2, -7),
        "name": ("string", "x", "y")}
    assert options_of('BEGIN { $a = getopt("flag", true); }', "flag=off") == {"flag": ("bool", True, False)}


def test_one_option_keeps_one_default():
    errors = pass_errors('BEGIN { $a = getopt("n", 5); $b = getopt("n", 6); }', "program_settings")
    assert errors.startswith("stdin:1:35-49: ERROR: Command line option 'n' needs to have the same default "
                             "value in all places it is used. Previous default value: 5\n")
