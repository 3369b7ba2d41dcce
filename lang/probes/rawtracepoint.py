"""rawtracepoint:[MODULE:]EVENT (`rt:`): raw kernel tracepoints, named as
bpftrace names them (`rawtracepoint:vmlinux:sched_switch`).

The raw tracepoints are the kernel's BTF functions `__probestub_EVENT` and
`__traceiter_EVENT`, in vmlinux and in each loaded module's BTF
(/sys/kernel/btf/MODULE); without BTF, tracefs's events (vmlinux). An event
without a module matches it in any of them.

A probe is loaded as a classic BPF_PROG_TYPE_RAW_TRACEPOINT program, whose
arguments are raw u64 slots; one calling a builtin whose helper takes a
BTF-typed pointer (socket_cookie) is loaded as tp_btf (a tracing program
on the tracepoint's `btf_trace_EVENT`), where the kernel types them.
argN are the raw u64 args; `args.NAME` is typed from BTF (`__probestub_EVENT`'s
parameters after `__data`)."""

from __future__ import annotations

import fnmatch
import re

from pytrace.lang import types as T
from pytrace.lang.probes.base import (ContextVar, NoMatches, ProbeError, ProbeProvider, ProbeSpec, has_wildcard,
                                      list_matching)

BTF_PREFIXES = ("__probestub_", "__traceiter_")
_EVENTS: dict[int, list[tuple[str, str]]] = {}  # id(vmlinux BTF) -> its (module, event) list


def raw_events(tracepoints) -> set[str]:
    """The raw tracepoints among tracefs events: all but syscalls:*, which the kernel
    makes from the raw sys_enter and sys_exit (raw_syscalls:*), not tracepoints of their own."""
    return {event for category, event in tracepoints if category != "syscalls"}


def _btf_events(btf) -> list[str]:
    out = set()
    for func in btf.names("func"):
        for prefix in BTF_PREFIXES:
            if func.startswith(prefix):
                out.add(func[len(prefix):])
    return sorted(out)


def raw_tracepoints(kernel) -> list[tuple[str, str]]:
    """Every (module, event) raw tracepoint of a kernel, sorted ("vmlinux" first)."""
    btf = kernel.btf()
    if btf is None:
        return [("vmlinux", e) for e in sorted(raw_events(kernel.tracepoints()))]
    if id(btf) not in _EVENTS:
        found = [("vmlinux", e) for e in _btf_events(btf)]
        for module in btf.module_names():
            mod = btf.module(module)
            if mod is not None:
                found.extend((module, e) for e in _btf_events(mod))
        _EVENTS[id(btf)] = found
    return _EVENTS[id(btf)]


def _module_btf(kernel, module: str):
    btf = kernel.btf()
    if btf is None or module == "vmlinux":
        return btf
    return btf.module(module)


class RawTracepointProvider(ProbeProvider):
    name = "rawtracepoint"
    aliases = ("rt",)
    prog_type = "raw_tracepoint"
    attach_kind = "raw_tracepoint"
    pid_predicate = True
    variable_names = ("args", *(f"arg{i}" for i in range(12)))
    doc = "raw kernel tracepoints: rawtracepoint:[MODULE:]EVENT"

    def expand_in(self, kernel, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) not in (1, 2) or not parts[-1] or not parts[0]:
            raise ProbeError("rawtracepoint probe must be rawtracepoint:[MODULE:]EVENT")
        module, event = (parts[0], parts[1]) if len(parts) == 2 else ("*", parts[0])
        matches = [(m, e) for m, e in raw_tracepoints(kernel)
                   if fnmatch.fnmatchcase(m, module) and fnmatch.fnmatchcase(e, event)]
        if not matches:
            # As bpftrace: an event without a module is looked for in every module,
            # so (like a wildcard) it leaves its probe without attach points.
            raise NoMatches(f"{self.name} {module}:{event}", wildcard=len(parts) == 1 or has_wildcard(raw))
        return [ProbeSpec(self.name, f"rawtracepoint:{m}:{e}", {"module": m, "event": e},
                          {"kind": self.attach_kind, "name": e, "module": m}) for m, e in matches]

    def completions(self, fields: list[str]) -> list[str]:
        from pytrace.lang.kernel_view import host_kernel

        found = raw_tracepoints(host_kernel())
        if len(fields) == 1:  # an event (looked for in every module) or MODULE:
            return sorted({e for _, e in found} | {m + ":" for m, _ in found})
        if len(fields) == 2:
            return sorted(e for m, e in found if m == fields[0])
        return []

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        from pytrace.lang.kernel_view import host_kernel

        kernel = host_kernel()
        parts = pattern.split(":")
        if len(parts) == 2 and parts[0] != "*":  # `rawtracepoint:EVENT`: in any module
            pattern = f"{parts[0]}:*:{parts[1]}"
        out = []
        for name in list_matching((f"rawtracepoint:{m}:{e}" for m, e in raw_tracepoints(kernel)), pattern):
            out.append(name)
            if verbose:
                _, module, event = name.split(":")
                out.extend(f"    {line}" for line in self._param_lines(kernel, module, event))
        return out

    def _param_lines(self, kernel, module: str, event: str) -> list[str]:
        btf = _module_btf(kernel, module)
        proto = btf.func_proto("__probestub_" + event) if btf is not None else None
        if proto is None:
            return []
        return [f"{btf.type_name(tid)} {name}" for name, tid in proto[0][1:]]  # not `void *__data`

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        from pytrace.lang import ktypes

        btf = _module_btf(spec.kernel, spec.target.get("module", "vmlinux"))
        proto = btf.func_proto("__probestub_" + spec.target["event"]) if btf is not None else None
        if proto is None or not proto[0]:
            return None
        fields = {}
        for i, (name, tid) in enumerate(proto[0][1:]):  # skip `void *__data`
            t = ktypes.from_btf(btf, tid) if tid else None
            # The context holds each argument as a u64 and allows only 8-byte loads:
            # integers are read whole (the kernel widened them with their sign).
            if isinstance(t, (T.IntType, T.BoolType)):
                t = T.S64 if T.is_signed(t) else T.U64
            elif not isinstance(t, T.PointerType):
                t = T.U64
            if name:
                fields[name] = T.RecordField(name, 8 * i, t)
        return T.RecordType(f"struct _rawtracepoint_{spec.target['event']}", 8 * (len(proto[0]) - 1), fields)

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        m = re.fullmatch(r"arg(\d+)", name)
        if m:
            return ContextVar(T.U64, 8 * int(m.group(1)))
        return None

    def load_as(self, spec: ProbeSpec, calls: set[str]) -> tuple[str, dict]:
        from pytrace.lang import builtins

        needs_btf = any(getattr(builtins.FUNCTIONS.get(c), "btf_pointer_arg", False) for c in calls)
        btf = spec.kernel.btf() if spec.kernel is not None else None
        event = spec.target["event"]
        if (not needs_btf or spec.target.get("module") != "vmlinux" or btf is None
                or btf.find("btf_trace_" + event, "typedef") is None):
            return self.prog_type, spec.attach
        return "tracing", {"kind": "tracing", "attach_type": "raw_tp", "btf_func": "btf_trace_" + event,
                           "btf_kind": "typedef", "func": event}
