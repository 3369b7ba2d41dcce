"""The typecheck pass: types of variables, maps and provider arguments, from
the fixture kernel's tracepoint formats and BTF. (More diagnostics:
test_type_diagnostics.py, test_semantic_diagnostics*.py.)"""

from conftest import pass_errors, run_passes
from pytrace.lang import types as T


def test_tracepoint_args_curtask_and_casts():
    ctx = run_passes('t:syscalls:sys_enter_openat { @[str(args.filename)] = count(); $t = curtask->comm; '
                     "$p = (struct task_struct *)curtask->parent; }", "typecheck")
    assert ctx.maps["@"].kind == "count" and ctx.maps["@"].key_types == [T.StringType(1024)]
    variables = ctx.units[0].variables
    assert variables["$t"] == T.StringType(16)
    assert variables["$p"].pointee.record_name == "struct task_struct"
    assert variables["$p"].pointee.size == 96


def test_fentry_args_from_btf():
    ctx = run_passes("fentry:vfs_read { @ = args.count; }", "typecheck")
    assert ctx.maps["@"].value_type == T.U64


def test_rawtracepoint_args_from_the_probestub():
    ctx = run_passes("rt:sched_switch { @ = args.prev_state; }", "typecheck")
    assert ctx.maps["@"].value_type == T.U64


def test_kaddr_from_kallsyms():
    ctx = run_passes('BEGIN { @ = kaddr("jiffies"); }', "typecheck")
    assert ctx.program.probes[0].block.stmts[0].value.address == 0xFFFFFFFF82A0B1C0


def test_kaddr_of_an_unknown_symbol():
    assert pass_errors('BEGIN { @ = kaddr("nope"); }', "typecheck") == (
        "stdin:1:13-26: ERROR: Failed to resolve kernel symbol: nope\n"
        'BEGIN { @ = kaddr("nope"); }\n'
        "            ~~~~~~~~~~~~~\n")


def test_unknown_tracepoint_field():
    assert pass_errors("t:syscalls:sys_enter_getppid { @ = args.nosuch; }", "typecheck").startswith(
        "stdin:1:36-47: ERROR: Can't find a field nosuch")


def _stack_types(ctx) -> list:
    from pytrace.lang.visitor import walk
    return [n.type for n in walk(ctx.program) if isinstance(getattr(n, "type", None), T.StackType)]


def test_build_id_stack_mode_sizes_the_frames():
    ctx = run_passes("begin { $a = (1, ustack(build_id)); $b = (1, ustack(build_id, 30)); $c = (1, kstack(raw, 30)); }",
                     "typecheck")
    sizes = {(t.mode, t.limit): t.size for t in _stack_types(ctx)}
    assert sizes == {("build_id", 127): 16 + 32 * 127, ("build_id", 30): 16 + 32 * 30, ("raw", 30): 8 + 8 * 30}


def test_build_id_stack_mode_is_for_ustack_only():
    assert pass_errors("begin { print(kstack(build_id)); }", "typecheck") == """\
stdin:1:15-31: ERROR: 'build_id' stack mode can only be used for ustack
begin { print(kstack(build_id)); }
              ~~~~~~~~~~~~~~~~
"""
    ctx = run_passes("config = { stack_mode = build_id } begin { print(kstack); print(ustack); }", "typecheck")
    assert [(t.kernel, t.mode) for t in _stack_types(ctx)] == [(True, "raw"), (False, "build_id")]
    assert [d.message for d in ctx.diags.warnings] == [
        "'build_id' stack mode can only be used for ustack. Falling back to 'raw' mode."]


def test_unknown_stack_mode_lists_the_modes():
    assert pass_errors("begin { print(ustack(fast)); }", "typecheck").startswith(
        "stdin:1:22-26: ERROR: Error parsing stack mode: ustack: Invalid value for stack_mode: valid values are "
        "bpftrace, raw, perf, and build_id.\n")
