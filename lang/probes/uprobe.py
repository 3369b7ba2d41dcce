"""uprobe:BINARY:FUNC[+OFFSET] (`u:`) and uretprobe:BINARY:FUNC (`ur:`):
dynamic probes on user-space functions. The runtime resolves FUNC in the
binary's ELF symbols to a file offset when it attaches."""

from __future__ import annotations

import re

from pytrace.lang import types as T
from pytrace.lang.probes.base import ContextVar, ProbeError, ProbeProvider, ProbeSpec
from pytrace.lang.probes.kprobe import PT_REGS_ARGS, PT_REGS_AX


class UprobeProvider(ProbeProvider):
    name = "uprobe"
    aliases = ("u",)
    prog_type = "kprobe"
    retprobe = False
    variable_names = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "func")
    doc = "user function entry: uprobe:BINARY:FUNC[+OFFSET]"

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) == 3:  # uprobe:BINARY:LANG:FUNC is not supported; BINARY may hold ':'?
            binary, func = parts[0], ":".join(parts[1:])
        elif len(parts) == 2:
            binary, func = parts
        else:
            raise ProbeError(f"{self.name} probe must be {self.name}:BINARY:FUNC")
        if not binary or not func:
            raise ProbeError(f"{self.name} probe must be {self.name}:BINARY:FUNC")
        offset = 0
        address = None
        if re.fullmatch(r"0x[0-9a-fA-F]+|\d+", func):
            address, func = int(func, 0), ""
        elif "+" in func:
            func, _, off = func.partition("+")
            offset = int(off, 0)
        name = f"{self.name}:{binary}:{func if address is None else hex(address)}"
        return [ProbeSpec(self.name, name, {"binary": binary, "func": func, "offset": offset, "address": address},
                          {"kind": "uprobe", "binary": binary, "func": func, "offset": offset,
                           "address": address, "retprobe": self.retprobe})]

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name == "retval" and self.retprobe:
            return ContextVar(T.S64, PT_REGS_AX)
        m = re.fullmatch(r"arg(\d)", name)
        if m and not self.retprobe and int(m.group(1)) < len(PT_REGS_ARGS):
            return ContextVar(T.U64, PT_REGS_ARGS[int(m.group(1))])
        return None


class UretprobeProvider(UprobeProvider):
    name = "uretprobe"
    aliases = ("ur",)
    retprobe = True
    variable_names = ("retval", "func")
    doc = "user function return: uretprobe:BINARY:FUNC"
