"""The resolve pass: identifiers become builtins, provider variables or
enum values (the script's, then the kernel's BTF); unknown names are errors."""

from conftest import pass_errors, run_passes
from pytrace.lang import ast


def value(text: str) -> ast.Expr:
    return run_passes(text, "resolve").program.probes[0].block.stmts[0].value


def test_enumerators_from_the_script_and_from_kernel_btf():
    v = value("enum E { A = 3 }; BEGIN { @ = A + TASK_INTERRUPTIBLE; }")
    assert (v.left.value, v.left.raw) == (3, "A")
    assert (v.right.value, v.right.raw) == (1, "TASK_INTERRUPTIBLE")


def test_unknown_identifier():
    assert pass_errors("BEGIN { @ = nosuch; }", "resolve") == (
        "stdin:1:13-19: ERROR: Unknown identifier: 'nosuch'\n"
        "BEGIN { @ = nosuch; }\n"
        "            ~~~~~~\n")


def test_provider_variable_of_another_provider():
    assert "retval" in pass_errors("k:vfs_read { @ = retval; }", "resolve")


def test_script_struct_may_use_kernel_types():
    ctx = run_passes("struct S { struct task_struct *t; int x; } BEGIN { }", "resolve")
    s = ctx.c_types.lookup("struct S")
    assert s.field("t").type.pointee.record_name == "struct task_struct"
    assert s.field("x").offset == 8
