"""kprobe:[MODULE:]FUNC[+OFFSET] (`k:`) and kretprobe:[MODULE:]FUNC (`kr:`):
dynamic probes on kernel function entry and return."""

from __future__ import annotations

import fnmatch
import os
import re

from pytrace.lang import types as T
from pytrace.lang.probes import tracefs
from pytrace.lang.probes.base import (ContextVar, NoMatches, ProbeError, ProbeProvider, ProbeSpec, has_wildcard,
                                      module_and_function)

# struct pt_regs on x86_64: where each argument register and the return value live.
PT_REGS_ARGS = (112, 104, 96, 88, 72, 64)  # di, si, dx, cx, r8, r9
PT_REGS_AX = 80
PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48, "r10": 56,
           "r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104, "di": 112,
           "orig_ax": 120, "orig_rax": 120, "ip": 128, "pc": 128, "cs": 136, "flags": 144, "sp": 152,
           "ss": 160}

_SYSCALL_PREFIXES = ("__x64_sys_", "__ia32_sys_", "__se_sys_", "__do_sys_", "do_sys_", "ksys_", "sys_")


def kprobes_available() -> bool:
    base = tracefs.root()
    return os.path.exists("/sys/bus/event_source/devices/kprobe") or (
        base is not None and os.path.exists(os.path.join(base, "kprobe_events")))


def syscall_tracepoints(func: str, enter: bool) -> list[str]:
    """Syscall tracepoints that cover what a kernel function does, if any."""
    name = func
    for prefix in _SYSCALL_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    else:
        return []
    name = re.sub(r"\d+$", "", name)  # do_sys_openat2 -> openat
    kind = "sys_enter_" if enter else "sys_exit_"
    names = {e for c, e in tracefs.all_tracepoints() if c == "syscalls"}
    return [f"tracepoint:syscalls:{kind}{n}" for n in (name, name + "at", name + "at2") if kind + n in names]


class KprobeProvider(ProbeProvider):
    name = "kprobe"
    aliases = ("k",)
    prog_type = "kprobe"
    attach_kind = "kprobe"
    addrspace = "any"  # a kernel function's argument may point to user memory
    pt_regs_context = True
    pid_predicate = True
    warn_never_fired = "kprobe"
    fires_newest_first = True
    retprobe = False
    variable_names = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "func", "sarg0")
    doc = "kernel function entry: kprobe:[MODULE:]FUNC[+OFFSET]"

    def expand_in(self, kernel, parts: list[str], raw: str) -> list[ProbeSpec]:
        module, target = module_and_function(self.name, parts)
        offset = 0
        if "+" in target:
            if self.retprobe:
                raise ProbeError("kretprobe does not take an offset")
            target, _, off = target.partition("+")
            try:
                offset = int(off, 0)
            except ValueError:
                raise ProbeError(f"Invalid offset: {off}") from None
        funcs = [target]
        if has_wildcard(target):
            available = kernel.available_functions()
            funcs = sorted({f for f in available if fnmatch.fnmatchcase(f, target)})
            if not funcs:
                raise NoMatches(f"{self.name} {module + ':' if module else ''}{target}", wildcard=True)
        prefix = f"{self.name}:{module + ':' if module else ''}"
        return [
            ProbeSpec(self.name, f"{prefix}{f}{'+' + str(offset) if offset else ''}",
                      {"module": module, "func": f, "offset": offset},
                      {"kind": self.attach_kind, "func": f, "module": module, "offset": offset,
                       "retprobe": self.retprobe})
            for f in funcs
        ]

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name == "func":  # one program per attach point uses it, so a constant
            return ContextVar(T.StringType(64), const=spec.target["func"])
        if name == "retval" and self.retprobe:
            return ContextVar(T.S64, PT_REGS_AX)
        m = re.fullmatch(r"arg(\d)", name)
        if m and not self.retprobe and int(m.group(1)) < len(PT_REGS_ARGS):
            return ContextVar(T.U64, PT_REGS_ARGS[int(m.group(1))])
        return None

    def completions(self, fields: list[str]) -> list[str]:
        if len(fields) == 1:  # kprobe:FUNC (kprobe:MODULE:FUNC is not completed)
            return sorted(set(tracefs.available_filter_functions()))
        return []

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        if self.retprobe or not fnmatch.fnmatchcase(self.name, pattern.split(":", 1)[0]):
            return []  # like bpftrace, list kprobe:FUNC once (kretprobe attaches to the same)
        funcs = sorted(set(tracefs.available_filter_functions()))
        return [n for n in (f"{self.name}:{f}" for f in funcs) if fnmatch.fnmatchcase(n, pattern)]

    def unavailable_reason(self) -> str | None:
        if kprobes_available():
            return None
        return "kprobes are not available on this kernel (it was built without CONFIG_KPROBES)"

    def alternative_hint(self, spec: ProbeSpec) -> str | None:
        tps = syscall_tracepoints(spec.target["func"], enter=not self.retprobe)
        if not tps:
            return None
        return "try the tracepoint equivalent: " + ", ".join(tps)


class KretprobeProvider(KprobeProvider):
    name = "kretprobe"
    aliases = ("kr",)
    retprobe = True
    fires_newest_first = False  # kretprobes run in the order they were attached
    variable_names = ("retval", "func")
    doc = "kernel function return: kretprobe:[MODULE:]FUNC"
