"""rawtracepoint:[MODULE:]EVENT (`rt:`): raw kernel tracepoints, loaded as
classic BPF_PROG_TYPE_RAW_TRACEPOINT programs (which load where BTF-based
tracing programs are refused). argN are the raw u64 args; `args.NAME` is
typed from BTF where the kernel has `__probestub_EVENT` (6.4+), whose
parameters after `__data` are the tracepoint's arguments."""

from __future__ import annotations

import re

from pytrace.lang import types as T
from pytrace.lang.probes import tracefs
from pytrace.lang.probes.base import (ContextVar, ProbeError, ProbeProvider, ProbeSpec, has_wildcard,
                                      list_matching)


def raw_events(tracepoints) -> set[str]:
    """The raw tracepoints among tracefs events: all but syscalls:*, which the kernel
    makes from the raw sys_enter and sys_exit (raw_syscalls:*), not tracepoints of their own."""
    return {event for category, event in tracepoints if category != "syscalls"}


class RawTracepointProvider(ProbeProvider):
    name = "rawtracepoint"
    aliases = ("rt",)
    prog_type = "raw_tracepoint"
    attach_kind = "raw_tracepoint"
    pid_predicate = True
    variable_names = ("args", *(f"arg{i}" for i in range(12)))
    doc = "raw kernel tracepoints: rawtracepoint:[MODULE:]EVENT"

    def expand_in(self, kernel, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) not in (1, 2) or not parts[-1]:
            raise ProbeError("rawtracepoint probe must be rawtracepoint:[MODULE:]EVENT")
        event = parts[-1]
        events = [event]
        if has_wildcard(event):
            import fnmatch
            events = sorted({e for e in raw_events(kernel.tracepoints()) if fnmatch.fnmatchcase(e, event)})
            if not events:
                raise ProbeError(f"No raw tracepoints match {raw}")
        return [ProbeSpec(self.name, f"rawtracepoint:{e}", {"event": e},
                          {"kind": self.attach_kind, "name": e}) for e in events]

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return list_matching(sorted({f"rawtracepoint:{e}" for e in raw_events(tracefs.all_tracepoints())}), pattern)

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        from pytrace.lang.probes.fentry import prototype

        proto = prototype("__probestub_" + spec.target["event"], spec.kernel.btf())
        if proto is None or not proto[0]:
            return None
        fields = {}
        for i, (name, t) in enumerate(proto[0][1:]):  # skip `void *__data`
            # The context holds each argument as a u64 and allows only 8-byte loads:
            # integers are read whole (the kernel widened them with their sign).
            if isinstance(t, (T.IntType, T.BoolType)):
                t = T.S64 if T.is_signed(t) else T.U64
            if name and not isinstance(t, T.VoidType):
                fields[name] = T.RecordField(name, 8 * i, t)
        return T.RecordType(f"struct _rawtracepoint_{spec.target['event']}", 8 * (len(proto[0]) - 1), fields)

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        m = re.fullmatch(r"arg(\d+)", name)
        if m:
            return ContextVar(T.U64, 8 * int(m.group(1)))
        return None
