"""iter:TYPE[:PIN] compiled for the fixture kernel (its BTF has bpf_iter__task,
bpf_iter__task_file and bpf_iter__task_vma): what the provider declares, the
typed `ctx`, printf into the iterator's output and the null check. Pure."""

import pytest

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def compile_ir(text: str, **options):
    debug: dict = {}
    artifact = generate(analyse(Source("stdin", text), fixture_options(**options)), debug)
    return artifact, debug["ir_unoptimised"]


def errors(text: str) -> str:
    with pytest.raises(CompileError) as e:
        analyse(Source("stdin", text), fixture_options())
    return str(e.value)


def test_an_iter_probe_is_a_tracing_program_for_its_iterator_function():
    artifact, _ = compile_ir('iter:task { printf("%s\\n", ctx.task.comm); }')
    (prog,) = artifact.programs
    assert (prog.probe, prog.provider, prog.prog_type) == ("iter:task", "iter", "tracing")
    assert prog.attach == [{"kind": "iter", "btf_func": "bpf_iter_task", "attach_type": "iter", "pin": ""}]


@pytest.mark.parametrize("probe, pin", [
    ("iter:task_file:files", "/sys/fs/bpf/files"),
    ("it:task_vma:/sys/fs/bpf/dir/maps", "/sys/fs/bpf/dir/maps"),
])
def test_a_pin_is_a_path_under_the_bpf_file_system(probe, pin):
    artifact, _ = compile_ir(probe + " { }")
    assert artifact.programs[0].attach[0]["pin"] == pin


def test_ctx_is_the_iterators_context_typed_from_btf():
    _, ir_text = compile_ir('iter:task_file { @[ctx.fd] = ctx.task.pid; @f[ctx.file.f_flags] = count(); }')
    assert "fd" in ir_text and "file_is_null" in ir_text and "task_is_null" in ir_text
    _, ir_text = compile_ir('iter:task_vma { @[ctx.vma.vm_start] = ctx.vma.vm_end - ctx.vma.vm_start; }')
    assert "vma_is_null" in ir_text


def test_printf_writes_to_the_seq_file_with_its_format_as_written():
    _, ir_text = compile_ir('iter:task { printf("%s:%d\\n", ctx.task.comm, ctx.task.pid); }')
    assert "seq_printf" in ir_text and "iter_seq" in ir_text
    assert "ringbuf_output" not in ir_text
    _, ir_text = compile_ir('tracepoint:syscalls:sys_enter_getpid { printf("%d\\n", pid); }')
    assert "seq_printf" not in ir_text and "ringbuf_output" in ir_text


def test_other_events_of_an_iter_probe_still_use_the_ring_buffer():
    _, ir_text = compile_ir('iter:task { print(ctx.task.pid); exit(); }')
    assert "ringbuf_output" in ir_text and "seq_printf" not in ir_text


@pytest.mark.parametrize("text, message", [
    ("iter:task* { }", "iter probe type does not support wildcards"),
    ("iter:nope { }", "iter nope not available for your kernel version."),
    ("iter:task:a:b { }", "iter probe type takes 2 arguments (1 optional)"),
    ("iter:task, iter:task_vma { }", "iter probe only supports one attach point."),
    ("iter:task { print(args) }", "The args builtin can only be used with"),
    ("iter:task { print(ctx.nope) }", "nope"),
])
def test_iter_mistakes_are_diagnostics(text, message):
    assert message in errors(text)
