"""fentry:[MODULE:]FUNC (`f:`, `kfunc:`) and fexit:[MODULE:]FUNC (`fr:`,
`kretfunc:`): BPF trampolines on kernel function entry and return.

The program's context is an array of u64: argument i at offset 8*i, and for
fexit the return value right after the arguments. `args.NAME` and `retval`
are typed from the function's BTF prototype. A tracing program is loaded
for one function (the runtime resolves its BTF id at load time), so every
attach point gets its own program.
"""

from __future__ import annotations

import fnmatch
import os

from pytrace.lang import types as T
from pytrace.lang.btf import BTF, BTFError
from pytrace.lang.probes.base import (ContextVar, NoMatches, ProbeError, ProbeProvider, ProbeSpec, has_wildcard,
                                      module_and_function)
from pytrace.lang.probes.kprobe import syscall_tracepoints


def _btf() -> BTF | None:
    try:
        return BTF.kernel()
    except (OSError, BTFError):
        return None


def _param_type(btf: BTF, tid: int) -> T.Type:
    """A parameter's language type: ints, bools, enums and pointers keep their
    type; anything else is a u64 (the raw context slot)."""
    if tid == 0:
        return T.VOID
    t = btf.type(btf.resolve(tid))
    if t.kind == "int":
        if t.is_bool:
            return T.BOOL
        return T.IntType(8 * t.size if t.size in (1, 2, 4, 8) else 64, bool(t.signed))
    if t.kind in ("enum", "enum64"):
        return T.IntType(8 * t.size if t.size in (1, 2, 4, 8) else 64, bool(t.signed))
    if t.kind == "ptr":
        pointee = btf.type(btf.resolve(t.type)) if t.type else None
        if pointee is not None and pointee.kind == "int" and pointee.size == 1:
            # Without BTF type tags `char *` may be user memory (a syscall's path).
            return T.PointerType(T.S8, "any")
        return T.PointerType(None, "kernel")
    return T.U64


def prototype(func: str, btf: BTF | None) -> tuple[list[tuple[str, T.Type]], T.Type] | None:
    """([(param name, type)], return type) of a kernel function, from BTF."""
    proto = btf.func_proto(func) if btf is not None else None
    if proto is None:
        return None
    params, ret = proto
    return [(name, _param_type(btf, tid)) for name, tid in params], _param_type(btf, ret)


class FentryProvider(ProbeProvider):
    name = "fentry"
    aliases = ("f", "kfunc")
    prog_type = "tracing"
    attach_kind = "tracing"
    addrspace = "any"  # a kernel function's argument may point to user memory
    pid_predicate = True
    program_per_attach_point = True  # the program is loaded for one function
    warn_never_fired = "fentry"
    fires_newest_first = True  # (fexit too)
    retprobe = False
    variable_names = ("args", "func")
    doc = "kernel function entry with BTF-typed args: fentry:[MODULE:]FUNC"

    def expand_in(self, kernel, parts: list[str], raw: str) -> list[ProbeSpec]:
        module, target = module_and_function(self.name, parts)
        if module not in ("", "vmlinux"):
            raise ProbeError(f"{self.name} probes on module functions ({module}) are not supported yet")
        btf = kernel.btf()
        if btf is None:
            raise ProbeError(f"{self.name} probes need kernel BTF (/sys/kernel/btf/vmlinux)")
        if has_wildcard(target):
            funcs = sorted({f for f in kernel.available_functions()
                            if fnmatch.fnmatchcase(f, target) and btf.find(f, "func") is not None})
            if not funcs:
                raise NoMatches(f"{self.name} {module + ':' if module else ''}{target}", wildcard=True)
        elif btf.find(target, "func") is None:
            raise NoMatches(f"{self.name} {module + ':' if module else ''}{target}")
        else:
            funcs = [target]
        return [ProbeSpec(self.name, f"{self.name}:{'vmlinux:' if module else ''}{f}", {"func": f},
                          {"kind": self.attach_kind, "func": f, "retprobe": self.retprobe})
                for f in funcs]

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        proto = prototype(spec.target["func"], spec.kernel.btf())
        if proto is None:
            return None
        fields = {name: T.RecordField(name, 8 * i, t) for i, (name, t) in enumerate(proto[0])
                  if name and not isinstance(t, T.VoidType)}
        return T.RecordType(f"struct _fentry_{spec.target['func']}", 8 * len(proto[0]), fields)

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name == "func":
            return ContextVar(T.StringType(64), const=spec.target["func"])
        if name == "retval" and self.retprobe:
            proto = prototype(spec.target["func"], spec.kernel.btf())
            if proto is not None and not isinstance(proto[1], T.VoidType):
                ret = proto[1] if T.is_int(proto[1]) or isinstance(proto[1], T.PointerType) else T.U64
                return ContextVar(ret, 8 * len(proto[0]))
        return None

    def completions(self, fields: list[str]) -> list[str]:
        btf = _btf()
        if len(fields) == 1 and btf is not None:  # fentry:FUNC, from the kernel's BTF
            return sorted(set(btf.names("func")))
        return []

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        """Kernel functions with BTF (listed once, as fentry:, like kprobe:)."""
        btf = _btf()
        if self.retprobe or btf is None or not fnmatch.fnmatchcase(self.name, pattern.split(":", 1)[0]):
            return []
        out = []
        for func in sorted(set(btf.names("func"))):
            name = f"{self.name}:{func}"
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            out.append(name)
            if verbose:
                proto = btf.func_proto(func)
                if proto is not None:
                    params, ret = proto
                    out.extend(f"    {btf.type_name(tid)} {pname}" for pname, tid in params)
                    if ret:
                        out.append(f"    {btf.type_name(ret)} retval")
        return out

    def unavailable_reason(self) -> str | None:
        if os.path.exists("/sys/kernel/btf/vmlinux"):
            return None
        return "fentry/fexit need kernel BTF (/sys/kernel/btf/vmlinux), which this kernel lacks"

    def alternative_hint(self, spec: ProbeSpec) -> str | None:
        kind = "kretprobe" if self.retprobe else "kprobe"
        tps = syscall_tracepoints(spec.target["func"], enter=not self.retprobe)
        return f"try {kind}:{spec.target['func']}" + (" or " + ", ".join(tps) if tps else "")


class FexitProvider(FentryProvider):
    name = "fexit"
    aliases = ("fr", "kretfunc")
    retprobe = True
    variable_names = ("args", "func", "retval")
    doc = "kernel function return with BTF-typed args and retval: fexit:[MODULE:]FUNC"
