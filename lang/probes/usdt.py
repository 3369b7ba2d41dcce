"""usdt:BINARY:[PROVIDER:]PROBE (`U:`): user statically defined tracepoints,
read from the binary's `.note.stapsdt` ELF notes (lang/elf.py).

Each note is one location (a probe inlined N times has N notes); each
location becomes its own attach point, because its arguments may live in
different places. `argN` comes from the note's argument spec
(`-4@%edi`, `8@-16(%rbp)`, `4@$5`) as data: a register load, a constant,
or user memory at register + displacement. A probe guarded by a semaphore
is attached with the uprobe's reference counter (the kernel then
increments the semaphore in every process that maps the binary)."""

from __future__ import annotations

import fnmatch
import re

from pytrace.lang import elf
from pytrace.lang import types as T
from pytrace.lang.probes.base import ContextVar, ProbeError, ProbeProvider, ProbeSpec, lists_provider
from pytrace.lang.probes.kprobe import PT_REGS

# x86_64 register names (every width) -> (pt_regs slot, byte inside it).
_REGS: dict[str, tuple[str, int]] = {}
for _slot, _names in {"ax": "rax eax ax al", "bx": "rbx ebx bx bl", "cx": "rcx ecx cx cl",
                      "dx": "rdx edx dx dl", "si": "rsi esi si sil", "di": "rdi edi di dil",
                      "bp": "rbp ebp bp bpl", "sp": "rsp esp sp spl", "ip": "rip eip ip"}.items():
    for _n in _names.split():
        _REGS[_n] = (_slot, 0)
for _slot in ("ax", "bx", "cx", "dx"):
    _REGS[_slot[0] + "h"] = (_slot, 1)
for _i in range(8, 16):
    for _suffix in ("", "d", "w", "b"):
        _REGS[f"r{_i}{_suffix}"] = (f"r{_i}", 0)

_ARG_RE = re.compile(r"(?P<sign>-?)(?P<size>\d+)@(?P<op>.+)")
_MEM_RE = re.compile(r"(?P<disp>-?(?:0x[0-9a-fA-F]+|\d+)?)\(%(?P<reg>\w+)\)")


def parse_arg(spec: str) -> ContextVar | None:
    """One argument of a note (`-4@%edi`) as a ContextVar; None if pytrace
    cannot read that operand form (e.g. `%fs:` or indexed addressing)."""
    m = _ARG_RE.fullmatch(spec)
    if m is None:
        return None
    size, signed, op = int(m["size"]), m["sign"] == "-", m["op"]
    vtype = T.S64 if signed else T.U64
    if size not in (1, 2, 4, 8):
        return None
    if op.startswith("$"):
        try:
            value = int(op[1:], 0)
        except ValueError:
            return None
        return ContextVar(vtype, const=value)
    if op.startswith("%"):
        reg = _REGS.get(op[1:])
        if reg is None:
            return None
        return ContextVar(vtype, PT_REGS[reg[0]] + reg[1], load_size=size, signed=signed)
    mm = _MEM_RE.fullmatch(op)
    if mm is None or mm["reg"] not in _REGS or _REGS[mm["reg"]][1] or mm["reg"] in ("rip", "eip", "ip"):
        return None
    disp = int(mm["disp"], 0) if mm["disp"] not in ("", "-") else 0
    return ContextVar(vtype, PT_REGS[_REGS[mm["reg"]][0]], load_size=size, signed=signed, deref=disp)


def _notes(binary: str) -> tuple[str, list[elf.UsdtNote]]:
    try:
        path = elf.resolve_binary(binary)
        return path, elf.open_elf(path).usdt_notes()
    except elf.ElfError as e:
        raise ProbeError(str(e)) from None


class UsdtProvider(ProbeProvider):
    name = "usdt"
    aliases = ("U",)
    prog_type = "kprobe"
    attach_kind = "uprobe"
    addrspace = "user"
    pt_regs_context = True
    variable_names = tuple(f"arg{i}" for i in range(12))
    doc = "user statically defined tracepoints: usdt:BINARY:[PROVIDER:]PROBE"

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) == 2:
            binary, provider, probe = parts[0], "*", parts[1]
        elif len(parts) == 3:
            binary, provider, probe = parts
        else:
            raise ProbeError("usdt probe must be usdt:BINARY:[PROVIDER:]PROBE")
        if not binary or not probe or not provider:
            raise ProbeError("usdt probe must be usdt:BINARY:[PROVIDER:]PROBE")
        path, notes = _notes(binary)
        found = [n for n in notes if fnmatch.fnmatchcase(n.provider, provider) and fnmatch.fnmatchcase(n.name, probe)]
        if not found:
            raise ProbeError(f"No USDT probe matches {provider + ':' if len(parts) == 3 else ''}{probe} in {path}",
                             [f"list them with: pytrace -l 'usdt:{path}:*'"])
        if len(parts) == 2 and len({n.provider for n in found}) > 1:
            raise ProbeError(f"USDT probe '{probe}' exists in several providers of {path}; "
                             "name one: usdt:BINARY:PROVIDER:PROBE")
        return [ProbeSpec(self.name, f"usdt:{path}:{n.provider}:{n.name}",
                          {"binary": path, "provider": n.provider, "probe": n.name, "args": n.args.split()},
                          {"kind": self.attach_kind, "binary": path, "func": "", "offset": 0, "address": n.pc,
                           "semaphore": n.semaphore, "retprobe": False})
                for n in found]

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        m = re.fullmatch(r"arg(\d+)", name)
        if m is None:
            return None
        args = spec.target["args"]
        index = int(m.group(1))
        return parse_arg(args[index]) if index < len(args) else None

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        """`-l 'usdt:BINARY:*'` (with -v, each probe's arguments)."""
        parts = pattern.split(":")[1:]
        if not lists_provider(self, pattern) or not parts or "*" in parts[0]:
            return []
        try:
            path, notes = _notes(parts[0])
        except ProbeError:
            return []
        out: list[str] = []
        for n in notes:
            name = f"usdt:{path}:{n.provider}:{n.name}"
            if fnmatch.fnmatchcase(name, f"usdt:{path}:{':'.join(parts[1:]) or '*'}") and name not in out:
                out.append(name)
                if verbose:
                    out.extend(f"    arg{i}: {a}" for i, a in enumerate(n.args.split()))
        return out
