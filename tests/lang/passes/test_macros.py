"""The macros pass: calls of `macro name(...) { ... }` replaced by their bodies."""

from conftest import pass_errors, run_passes
from pytrace.lang import ast


def test_value_macro_is_inlined():
    ctx = run_passes("macro inc(x) { x + 1 } BEGIN { @ = inc(2); }", "macros")
    [assign] = ctx.program.probes[0].block.stmts
    assert isinstance(assign.value, ast.Binop) and assign.value.op == "+"
    assert (assign.value.left.value, assign.value.right.value) == (2, 1)


def test_variable_parameter_needs_a_variable():
    assert pass_errors("macro inc($x) { $x + 1 } BEGIN { @ = inc(2); }", "macros") == (
        "stdin:1:42-43: ERROR: Mismatched arg. inc() expects a variable for arg $x but got an expression.\n"
        "macro inc($x) { $x + 1 } BEGIN { @ = inc(2); }\n"
        "                                         ~\n")


def test_wrong_argument_count():
    assert pass_errors("macro m() { 1 } BEGIN { @ = m(1); }", "macros") == (
        "stdin:1:29-33: ERROR: Call to m() has arguments that do not match any definition.\n"
        "macro m() { 1 } BEGIN { @ = m(1); }\n"
        "                            ~~~~\n"
        "HINT: The closest definition of m() has a different number of arguments. Expected: 0 but got 1\n")


def test_a_macro_with_another_arity_leaves_the_builtin():
    ctx = run_passes('macro cpu(x) { x } BEGIN { @a = cpu("hi"); @b = cpu(); @c = strlen("ab"); }', "macros")
    a, b, c = ctx.program.probes[0].block.stmts
    assert isinstance(a.value, ast.String) and isinstance(b.value, ast.Call) and b.value.name == "cpu"
    assert "has arguments that do not match" in pass_errors('macro strlen(a, b) { 1 } BEGIN { @ = strlen(); }', "macros")
