"""The parse pass: source text -> ctx.program, nothing bound yet.
(The grammar itself: tests/lang/test_parser.py and test_parse_errors.py.)"""

from conftest import pass_errors, run_passes
from pytrace.lang import ast


def test_parse_fills_in_the_program_only():
    ctx = run_passes("BEGIN { @x = 1; } END { }", "parse")
    assert isinstance(ctx.program, ast.Program)
    assert [p.attach_points[0].raw for p in ctx.program.probes] == ["BEGIN", "END"]
    assert ctx.units == [] and ctx.maps == {}


def test_attach_points_are_not_looked_up_yet():
    ctx = run_passes("tracepoint:nosuch:event { }", "parse")
    assert ctx.program.probes[0].attach_points[0].provider is None


def test_syntax_error():
    assert pass_errors("BEGIN { @x = ; }", "parse") == (
        "stdin:1:14-15: ERROR: syntax error, unexpected ;\n"
        "BEGIN { @x = ; }\n"
        "             ~\n")
