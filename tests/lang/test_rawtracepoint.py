"""rawtracepoint probes: module raw tracepoints (their split BTF, as under
/sys/kernel/btf/MODULE) and the program type a probe is loaded as, against the
fixture kernel."""

import os

from btf_builder import Builder
from conftest import FIXTURE_KERNEL, ROOT, run_passes

from pytrace.lang import types as T
from pytrace.lang.kernel_view import KernelView
from pytrace.lang.options import Options
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def _module_kernel(tmp_path) -> KernelView:
    """The fixture kernel with one loaded module, `mymod`, whose split BTF has a raw
    tracepoint `mymod_event(struct task_struct *task, int value)`."""
    base = FIXTURE_KERNEL.btf()
    b = Builder(base=base)
    task = base.find("task_struct", "struct")
    void_ptr = b.add("ptr", "", 0)
    task_ptr = b.add("ptr", "", task)
    i32 = b.add("int", "int", 4, extra=(1 << 24 | 32).to_bytes(4, "little"))
    proto = b.add("func_proto", "", 0, [(b.s("__data"), void_ptr), (b.s("task"), task_ptr), (b.s("value"), i32)])
    b.add("func", "__probestub_mymod_event", proto)
    (tmp_path / "mymod").write_bytes(b.blob())
    fixture = os.path.join(ROOT, "tests", "fixtures", "kernel")
    return KernelView(os.path.join(fixture, "tracing"), os.path.join(fixture, "kallsyms"),
                      os.path.join(fixture, "vmlinux.btf"), module_btf_dir=str(tmp_path))


def _analyse(text, kernel, until="typecheck"):
    return analyse(Source("stdin", text), Options(kernel=kernel), until=until)


def test_rawtracepoint_of_a_module(tmp_path):
    kernel = _module_kernel(tmp_path)
    for text in ("rawtracepoint:mymod:mymod_event { }", "rt:mymod_event { }", "rt:mymod:mymod_* { }"):
        ctx = _analyse(text, kernel, "bind_probes")
        assert [(s.name, s.attach) for u in ctx.units for s in u.specs] == [
            ("rawtracepoint:mymod:mymod_event",
             {"kind": "raw_tracepoint", "name": "mymod_event", "module": "mymod"})], text
    ctx = _analyse("rt:sched_switch { }", kernel, "bind_probes")
    assert [s.name for u in ctx.units for s in u.specs] == ["rawtracepoint:vmlinux:sched_switch"]


def test_rawtracepoint_of_a_module_types_args_from_its_btf(tmp_path):
    ctx = _analyse("rt:mymod:mymod_event { @[args.value] = args.task->pid; }", _module_kernel(tmp_path))
    args = ctx.units[0].provider.args_type(ctx.units[0].specs[0])
    assert args.fields["value"].offset == 8 and args.fields["value"].type == T.S64
    task = args.fields["task"].type
    assert isinstance(task, T.PointerType) and task.pointee.record_name == "struct task_struct"


def test_rawtracepoint_of_another_module_matches_nothing(tmp_path):
    from pytrace.lang.diagnostics import CompileError

    try:
        _analyse("rt:othermod:mymod_event { }", _module_kernel(tmp_path))
    except CompileError as e:
        assert "ERROR: No matches for rawtracepoint othermod:mymod_event.\n" in e.diagnostics.render()
    else:
        raise AssertionError("compiled")


def test_rawtracepoint_loads_as_tp_btf_only_for_btf_pointer_helpers():
    ctx = run_passes("rt:sched_switch { @ = args.prev; }", "typecheck")
    unit = ctx.units[0]
    assert unit.provider.load_as(unit.specs[0], {"print"}) == ("raw_tracepoint", unit.specs[0].attach)
    assert unit.provider.load_as(unit.specs[0], {"socket_cookie"}) == (
        "tracing", {"kind": "tracing", "attach_type": "raw_tp", "btf_func": "btf_trace_sched_switch",
                    "btf_kind": "typedef", "func": "sched_switch"})
