"""iter:TYPE[:PIN] (`it:`): BPF iterators over kernel objects (task,
task_file, task_vma...), as bpftrace runs them.

The program is a tracing program loaded for the kernel function
`bpf_iter_TYPE` (expected attach type BPF_TRACE_ITER) and attached with
BPF_LINK_CREATE. The kernel runs it once per object when the iterator is
read, with a `struct bpf_iter__TYPE *` context: `ctx.task`, `ctx.file`,
`ctx.fd`, `ctx.vma`... typed from BTF. A null object pointer read from the
context ends that run (the kernel's last call, in the iterator's stop, has
none). printf() writes to the iterator's own output (bpf_seq_printf), which
the runtime copies to stdout; with a PIN the link is pinned under
/sys/fs/bpf instead and anyone reading that file sees the output.
"""

from __future__ import annotations

import fnmatch

from pytrace.lang import ktypes
from pytrace.lang import types as T
from pytrace.lang.probes.base import ContextVar, ProbeError, ProbeProvider, ProbeSpec, has_wildcard

STRUCT_PREFIX = "bpf_iter__"
FUNC_PREFIX = "bpf_iter_"
BPF_FS = "/sys/fs/bpf/"


def iterators(btf) -> list[str]:
    """The iterator types a kernel has: its `struct bpf_iter__NAME` types
    (without the verifier's `__safe_trusted` variants), as bpftrace finds them."""
    if btf is None:
        return []
    return sorted({n[len(STRUCT_PREFIX):] for n in btf.names("struct")
                   if n.startswith(STRUCT_PREFIX) and not n.endswith("__safe_trusted")})


def pin_path(pin: str) -> str:
    """A pin given as an absolute path, or relative to /sys/fs/bpf."""
    return pin if pin.startswith("/") else BPF_FS + pin


class IterProvider(ProbeProvider):
    name = "iter"
    aliases = ("it",)
    prog_type = "tracing"
    attach_kind = "iter"
    doc = "BPF iterators over kernel objects: iter:TYPE[:PIN]"
    variable_names = ("ctx",)
    single_attach_point = True
    ctx_null_ends_run = True
    printf_to = "seq_file"

    def expand_in(self, kernel, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) not in (1, 2):
            raise ProbeError("iter probe type takes 2 arguments (1 optional)")
        if any(has_wildcard(p) for p in parts):
            raise ProbeError("iter probe type does not support wildcards")
        kind = parts[0]
        if not kind:
            raise ProbeError("iter should specify a iterator's name")
        btf = kernel.btf()
        if btf is not None and kind not in iterators(btf):
            raise ProbeError(f"iter {kind} not available for your kernel version.")
        pin = pin_path(parts[1]) if len(parts) == 2 and parts[1] else ""
        attach = {"kind": self.attach_kind, "btf_func": FUNC_PREFIX + kind, "attach_type": "iter", "pin": pin}
        return [ProbeSpec(self.name, f"iter:{':'.join(parts)}", {"iter": kind, "pin": pin}, attach)]

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name != "ctx":
            return None
        record = ktypes.named_type(f"struct {STRUCT_PREFIX}{spec.target['iter']}", spec.kernel.btf())
        if not isinstance(record, T.RecordType):
            return None
        return ContextVar(T.PointerType(record, "ctx"), whole_context=True)

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        from pytrace.lang.btf import BTF, BTFError

        try:
            btf = BTF.kernel()
        except (OSError, BTFError):
            return []
        out = []
        for kind in iterators(btf):
            name = f"iter:{kind}"
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            out.append(name)
            proto = btf.func_proto(FUNC_PREFIX + kind) if verbose else None
            if proto is not None:  # the iterator function's parameters but `meta`, as bpftrace lists them
                out.extend(f"    {btf.type_name(tid)} {pname}" for pname, tid in proto[0][1:])
        return out

    def unavailable_reason(self) -> str | None:
        import os

        if os.path.exists("/sys/kernel/btf/vmlinux"):
            return None
        return "iter probes need kernel BTF (/sys/kernel/btf/vmlinux), which this kernel lacks"
