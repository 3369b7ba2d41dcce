"""uprobe:BINARY:FUNC[+OFFSET] (`u:`) and uretprobe:BINARY:FUNC (`ur:`):
dynamic probes on user-space functions.

BINARY is a path, a program on $PATH or a library name (`libc`); FUNC is a
symbol (wildcards allowed), FUNC+OFFSET, or an address. `cpp:"ns::f*"` (or
any quoted name containing `::`) matches demangled C++ names. Wildcards are
expanded here, from the ELF's symbols; the runtime resolves each symbol to a
file offset again when it attaches (lang/elf.py), so a cached program still
attaches after the binary is rebuilt."""

from __future__ import annotations

import fnmatch
import re

from pytrace.lang import elf
from pytrace.lang import types as T
from pytrace.lang.probes.base import (ContextVar, ProbeError, ProbeProvider, ProbeSpec, has_wildcard,
                                      lists_provider)
from pytrace.lang.probes.kprobe import PT_REGS_ARGS, PT_REGS_AX

FUNC_TYPE = T.StringType(64)


def _binary(target: str) -> str | None:
    """The binary's path, or None when it can only be found at attach time
    (a library seen only in the -p process)."""
    try:
        return elf.resolve_binary(target)
    except elf.ElfError as e:
        if "/" in target:
            raise ProbeError(str(e)) from None
        return None


def _open(path: str) -> elf.ElfFile:
    try:
        return elf.open_elf(path)
    except elf.ElfError as e:
        raise ProbeError(str(e)) from None


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ProbeError(f"Invalid {what}: {text}") from None


class UprobeProvider(ProbeProvider):
    name = "uprobe"
    aliases = ("u",)
    prog_type = "kprobe"
    attach_kind = "uprobe"
    addrspace = "user"
    pt_regs_context = True
    retprobe = False
    variable_names = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "func")
    doc = "user function entry: uprobe:BINARY:FUNC[+OFFSET]"

    def _parse(self, parts: list[str]) -> tuple[str, str, bool]:
        """(binary, function pattern, match demangled C++ names)."""
        if len(parts) == 3 and parts[1] == "cpp":
            return parts[0], parts[2], True
        if len(parts) != 2 or not all(parts):
            raise ProbeError(f"{self.name} probe must be {self.name}:BINARY:FUNC")
        return parts[0], parts[1], "::" in parts[1]

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        binary, func, cpp = self._parse(parts)
        offset, address = 0, None
        if re.fullmatch(r"0x[0-9a-fA-F]+|\d+", func):
            address, func = int(func, 0), ""
        elif "+" in func:
            if self.retprobe:
                raise ProbeError("uretprobe does not take an offset")
            func, _, off = func.partition("+")
            offset = _int(off, "offset")
        path = _binary(binary)
        funcs = [func]
        if path is not None and address is None:
            image = _open(path)
            if cpp or has_wildcard(func):
                known = image.functions()
                funcs = [func] if func in known else elf.match_functions(image, func, cpp)
                if not funcs:
                    raise ProbeError(f"No functions match '{func}' in {path}",
                                     [f"list them with: pytrace -l '{self.name}:{path}:*'"])
            elif func not in image.functions():
                raise ProbeError(f"No symbol '{func}' in {path}",
                                 [f"list them with: pytrace -l '{self.name}:{path}:*'"])
        elif path is not None:
            try:
                _open(path).file_offset(address)
            except elf.ElfError as e:
                raise ProbeError(str(e)) from None
        elif has_wildcard(func):
            raise ProbeError(f"cannot expand '{func}': {binary} was not found",
                             ["give the binary's path"])
        shown = path or binary
        readable = elf.demangle(funcs)  # `func` prints C++ names demangled, as bpftrace does
        specs = []
        for f in funcs:
            where = f if address is None else hex(address)
            name = f"{self.name}:{shown}:{where}{'+' + str(offset) if offset else ''}"
            specs.append(ProbeSpec(
                self.name, name, {"binary": shown, "func": f, "offset": offset, "address": address,
                                  "readable": readable.get(f, f)},
                {"kind": self.attach_kind, "binary": binary, "func": f, "offset": offset, "address": address,
                 "retprobe": self.retprobe}))
        return specs

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name == "func":
            return ContextVar(FUNC_TYPE, const=spec.target["readable"] or hex(spec.target["address"] or 0))
        if name == "retval" and self.retprobe:
            return ContextVar(T.S64, PT_REGS_AX)
        m = re.fullmatch(r"arg(\d)", name)
        if m and not self.retprobe and int(m.group(1)) < len(PT_REGS_ARGS):
            return ContextVar(T.U64, PT_REGS_ARGS[int(m.group(1))])
        return None

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        """`-l 'uprobe:BINARY:PATTERN'`: the binary's functions."""
        parts = pattern.split(":")[1:]
        if not lists_provider(self, pattern) or len(parts) < 2 or has_wildcard(parts[0]):
            return []
        binary, func = parts[0], ":".join(parts[1:])
        try:
            path = elf.resolve_binary(binary)
            funcs = sorted(elf.open_elf(path).functions())
        except elf.ElfError:
            return []
        return [f"{self.name}:{path}:{f}" for f in funcs if fnmatch.fnmatchcase(f, func)]


class UretprobeProvider(UprobeProvider):
    name = "uretprobe"
    aliases = ("ur",)
    retprobe = True
    variable_names = ("retval", "func")
    doc = "user function return: uretprobe:BINARY:FUNC"
