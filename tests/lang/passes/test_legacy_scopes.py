"""The legacy_scopes pass: a variable assigned in a block and read after it
is declared at the start of the probe, with a warning (older bpftrace)."""

from conftest import run_passes
from pytrace.lang import ast


def test_hoisted_with_a_warning():
    ctx = run_passes("BEGIN { if (1) { $x = 5; } @ = $x; }", "legacy_scopes")
    first = ctx.program.probes[0].block.stmts[0]
    assert isinstance(first, ast.VarDecl) and first.var.name == "$x" and first.value is None
    assert ctx.diags.render() == (
        "stdin:1:32-34: WARNING: $x is used outside the block that first assigns it: treating it as "
        "declared at the start of the probe, as older bpftrace did\n"
        "BEGIN { if (1) { $x = 5; } @ = $x; }\n"
        "                               ~~\n"
        "HINT: declare it before the block to keep it working: let $x;\n")


def test_declared_variables_are_left_alone():
    ctx = run_passes("BEGIN { let $x; if (1) { $x = 5; } @ = $x; }", "legacy_scopes")
    assert ctx.diags.render() == ""
    assert len(ctx.program.probes[0].block.stmts) == 3


def test_for_bodies_and_later_declarations_keep_today_s_scoping():
    # $x assigned in an `if`, then again in a `for` body that reads it, then declared later with `let`
    program = ("BEGIN { @a[1] = 1; if 1 { $x = 1; } for $kv : @a { $x = 2; print($x); } "
               "let $x; print($x); }")
    ctx = run_passes(program, "legacy_scopes")
    assert ctx.diags.render() == ""
    assert not isinstance(ctx.program.probes[0].block.stmts[0], ast.VarDecl)
    # a read in a `for` body of what an earlier `if` assigned is still the old probe-wide variable
    ctx = run_passes("BEGIN { @a[1] = 1; if 1 { $y = 1; } for $kv : @a { print($y); } }", "legacy_scopes")
    assert "$y is used outside the block" in ctx.diags.render()
