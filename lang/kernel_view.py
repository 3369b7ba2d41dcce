"""The kernel a program is compiled for, as the compiler sees it.

Everything the language side reads from a kernel goes through a KernelView
held by the CompileContext (`ctx.kernel`): tracepoint names and format
files, the functions kprobes may attach to, kernel symbol addresses and
BTF. Providers get it through their ProbeSpec (`spec.kernel`, set by the
bind_probes pass), the passes through the context.

The default view reads this machine lazily, exactly where pytrace always
has (tracefs, /proc/kallsyms, /sys/kernel/btf/vmlinux). A view over a
directory laid out the same way (`KernelView.from_directory`) describes
another kernel; the tests use one built from a few small fixture files.
"""

from __future__ import annotations

import os

from pytrace.lang.btf import BTF, BTFError


class KernelView:
    """A kernel's tracefs, kallsyms, vmlinux BTF and its modules' BTF; None paths
    mean this machine's (the tracefs root found at first use, the cached
    BTF.kernel() and /sys/kernel/btf)."""

    def __init__(self, tracing: str | None = None, kallsyms: str | None = None,
                 btf_path: str | None = None, module_btf_dir: str | None = None) -> None:
        self.tracing = tracing
        self.kallsyms = kallsyms
        self.btf_path = btf_path
        self.module_btf_dir = module_btf_dir  # loaded modules' split BTF, one file per module
        self._btf: BTF | None = None

    @classmethod
    def from_directory(cls, path: str) -> "KernelView":
        """A kernel described by files under `path`: tracing/events/CATEGORY/EVENT/format,
        tracing/available_filter_functions, kallsyms and vmlinux.btf (raw BTF)."""
        return cls(os.path.join(path, "tracing"), os.path.join(path, "kallsyms"),
                   os.path.join(path, "vmlinux.btf"))

    def _tracefs(self):
        from pytrace.lang.probes import tracefs  # (importing lang.probes imports the providers)

        return tracefs

    def _kallsyms(self) -> str:
        return self.kallsyms or self._tracefs().KALLSYMS

    def tracepoints(self) -> list[tuple[str, str]]:
        """Every (category, event), sorted."""
        return self._tracefs().all_tracepoints(self.tracing)

    def tracepoint_format(self, category: str, event: str) -> str | None:
        """The event's tracefs `format` file, or None when there is no such event."""
        return self._tracefs().read_format(category, event, self.tracing)

    def available_functions(self) -> list[str]:
        """Kernel functions kprobes may attach to (see tracefs.available_filter_functions)."""
        return self._tracefs().available_filter_functions(self.tracing, self._kallsyms())

    def kernel_symbol(self, name: str) -> int | None:
        """The address of a kernel symbol, or None."""
        from pytrace.lang import symtab

        return symtab.kernel_symbol(name, self._kallsyms())

    def btf(self) -> BTF | None:
        """vmlinux BTF, or None on a kernel without it."""
        try:
            if self.btf_path is None:
                return BTF.kernel()
            if self._btf is None:
                self._btf = BTF.from_file(self.btf_path)
                self._btf.module_dir = self.module_btf_dir
            return self._btf
        except (OSError, BTFError):
            return None


_HOST = KernelView()


def host_kernel() -> KernelView:
    """This machine's kernel (the default view)."""
    return _HOST
