"""The script's own `#define NAME value` macros, expanded where NAME is a bare
identifier (lang/passes/c_macros.py)."""

from conftest import pass_errors, run_passes
from pytrace.lang.visitor import flatten


def expanded(defines: str, expr: str):
    ctx = run_passes(f"{defines}\nBEGIN {{ @r = {expr}; }}", "c_macros")
    return flatten(ctx.program.probes[0].block.stmts[0].value)


def test_values_are_expressions():
    assert expanded("#define TWO (1 + 1)", "TWO") == ["Binop", "+", ["Integer", 1], ["Integer", 1]]
    assert expanded('#define RED "red"', "RED") == ["String", "red"]
    assert expanded("#define A 3\n#define B (A * 2)", "B") == ["Binop", "*", ["Integer", 3], ["Integer", 2]]


def test_only_object_like_macros_named_as_identifiers_expand():
    assert expanded("#define F(x) (x + 1)", "$F") == ["Variable", "$F"]
    assert expanded("#define N 3", '"N"') == ["String", "N"]


def test_expansion_reports_at_the_identifier():
    ctx = run_passes("#define N (1 + 1)\nBEGIN { @r = N; }", "c_macros")
    value = ctx.program.probes[0].block.stmts[0].value
    assert value.span.location() == "stdin:2:14-15"
    assert value.left.span == value.span


def test_recursion_and_non_expressions_are_errors():
    assert pass_errors("#define A B\n#define B A\nBEGIN { @r = A; }", "c_macros").startswith(
        "stdin:3:14-15: ERROR: Macro recursion: A->B\n")
    assert pass_errors("#define X if\nBEGIN { @r = X; }", "c_macros").startswith(
        "stdin:2:14-15: ERROR: unable to expand macro as an expression: if\n")
