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
