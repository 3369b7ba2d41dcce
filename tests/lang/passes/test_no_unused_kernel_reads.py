"""No work for features a program does not use: compiling a program whose builtins
are not typed from kernel BTF never reads the kernel's BTF (5 MB and more)."""

from __future__ import annotations

from pytrace.codegen.compile import generate
from pytrace.lang.kernel_view import KernelView
from pytrace.lang.options import Options
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from tests.conftest import FIXTURE_KERNEL


class CountingKernel(KernelView):
    """The fixture kernel, counting the reads of its BTF."""

    btf_reads = 0

    def btf(self):
        CountingKernel.btf_reads += 1
        return super().btf()


def kernel() -> CountingKernel:
    CountingKernel.btf_reads = 0
    return CountingKernel(FIXTURE_KERNEL.tracing, FIXTURE_KERNEL.kallsyms, FIXTURE_KERNEL.btf_path)


def compile_for(text: str, k: CountingKernel) -> None:
    ctx = analyse(Source("stdin", text), Options(kernel=k, has_child=True))
    assert not ctx.diags.has_errors(), ctx.diags.render()
    generate(ctx, {})


def test_comm_pid_count_read_no_btf():
    k = kernel()
    compile_for("tracepoint:syscalls:sys_enter_getppid { @[comm, pid] = count(); }", k)
    assert CountingKernel.btf_reads == 0


def test_curtask_reads_btf():
    k = kernel()
    compile_for("tracepoint:syscalls:sys_enter_getppid { @ = curtask->pid; }", k)
    assert CountingKernel.btf_reads > 0
