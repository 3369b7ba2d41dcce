"""usdt:BINARY:[PROVIDER:]PROBE (`U:`): user statically defined tracepoints,
read from the binary's `.note.stapsdt` ELF notes (lang/elf.py).

BINARY is as for uprobes (lang/probes/uprobe_targets.py): a path or glob,
a program on $PATH, `*` (every running process's objects); with -p it may
be empty (`usdt::PROVIDER:PROBE`, `usdt:PROBE`) and every object the
process maps is searched. A probe name shared by several providers or
binaries attaches to all of them, as in bpftrace.

Each note is one location (a probe inlined N times has N notes). A probe
is one attach point that attaches to all its locations; locations whose
arguments live in different places get attach points of their own (their
programs differ), counted as the one probe they are. `argN` comes from the note's argument spec
(`-4@%edi`, `8@-16(%rbp)`, `4@$5`) as data: a register load, a constant,
or user memory at register + displacement. A probe guarded by a semaphore
is attached with the uprobe's reference counter (the kernel then
increments the semaphore in every process that maps the binary)."""

from __future__ import annotations

import re

from pytrace.lang import binaries, elf
from pytrace.lang import types as T
from pytrace.lang.options import Options
from pytrace.lang.probes import uprobe_targets
from pytrace.lang.probes.base import ContextVar, NoMatches, ProbeError, ProbeProvider, ProbeSpec
from pytrace.lang.probes.uprobe import user_listing_search
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
            value = int(op[1:], 0) & ((1 << (8 * size)) - 1)  # the constant at its declared size
        except ValueError:
            return None
        if signed and value >> (8 * size - 1):
            value -= 1 << (8 * size)
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


def _notes(path: str) -> list[elf.UsdtNote]:
    """A candidate file's USDT notes ([] if it is not a readable ELF)."""
    try:
        return elf.open_elf(path).usdt_notes()
    except elf.ElfError:
        return []


def _probes(paths: list[str]) -> list[tuple[str, str, str]]:
    return [(path, n.provider, n.name) for path in paths for n in _notes(path)]


class UsdtProvider(ProbeProvider):
    name = "usdt"
    aliases = ("U",)
    prog_type = "kprobe"
    attach_kind = "uprobe"
    addrspace = "user"
    pt_regs_context = True
    fires_newest_first = True
    variable_names = tuple(f"arg{i}" for i in range(12))
    doc = "user statically defined tracepoints: usdt:BINARY:[PROVIDER:]PROBE"

    def parse(self, parts: list[str], pid: int | None) -> tuple[str, str, str]:
        """(target, provider or "", probe) as bpftrace reads them."""
        if pid and len(parts) == 1:
            parts = ["", parts[0]]
        if len(parts) not in (2, 3):
            raise ProbeError(f"usdt probe type requires 2 or 3 arguments, found {len(parts)}")
        target, probe = parts[0], parts[-1]
        provider = parts[1] if len(parts) == 3 else ""
        if not probe:
            raise ProbeError("usdt probe must have a target function or wildcard")
        if not target and not pid:
            raise ProbeError("usdt probe must specify at least path or pid to probe. "
                             "To target all paths/pids set the path to '*'.")
        return target, provider, probe

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        return self.expand_with(None, parts, raw, Options())

    def expand_with(self, kernel, parts: list[str], raw: str, options) -> list[ProbeSpec]:
        pid = options.pid_filter
        target, provider, probe = self.parse(parts, pid)
        if target and not (pid and binaries.has_wildcard(target)):
            target = uprobe_targets.check_target(self.name, target, pid, False)
        if target and target != "*" and not binaries.has_wildcard(target):
            try:
                elf.open_elf(target)  # a named file that is no readable ELF: say why
            except elf.ElfError as e:
                raise ProbeError(str(e)) from None
        search = target
        if pid:  # the process's objects are named /proc/PID/root/ABSOLUTE_PATH
            absolute = uprobe_targets.abs_target(target) if target else ""
            search = "*" + absolute if absolute else (target or "*")
        lines = _probes(uprobe_targets.candidates(target or "*", pid))
        found = uprobe_targets.match_lines(lines, f"{search}:{provider or '*'}:{probe}")
        if not found:
            raise NoMatches(f"usdt {target}:{probe}",
                             [f"list them with: pytrace -l 'usdt:{target or '*'}:*'" + (f" -p {pid}" if pid else "")])
        cacheable = not pid and target != "*"
        return [spec for path, prov, name in found for spec in self._specs(path, prov, name, cacheable)]

    def _specs(self, path: str, provider: str, probe: str, cacheable: bool) -> list[ProbeSpec]:
        """One attach point per set of locations sharing argument places; in
        a PIE or shared library, one per location, as uaddr() needs the
        probe's own address in the file to find the load bias."""
        image = elf.open_elf(path)
        groups: dict[tuple, list[elf.UsdtNote]] = {}
        for n in image.usdt_notes():
            if n.provider == provider and n.name == probe:
                groups.setdefault((n.args, n.pc if image.is_pie else 0), []).append(n)
        return [ProbeSpec(self.name, f"usdt:{path}:{provider}:{probe}",
                          {"binary": path, "provider": provider, "probe": probe, "args": args.split(),
                           "pie_vaddr": notes[0].pc if image.is_pie else None},
                          {"kind": self.attach_kind, "binary": path, "locations": [n.pc for n in notes],
                           "semaphore": notes[0].semaphore, "retprobe": False, "same_probe": i > 0},
                          cacheable=cacheable)
                for i, ((args, _pc), notes) in enumerate(groups.items())]

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        m = re.fullmatch(r"arg(\d+)", name)
        if m is None:
            return None
        args = spec.target["args"]
        index = int(m.group(1))
        return parse_arg(args[index]) if index < len(args) else None

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return self.list_probes_in(pattern, verbose, None)

    def list_probes_in(self, pattern: str, verbose: bool, pid: int | None) -> list[str]:
        """`-l 'usdt:BINARY:*'`, `-l 'usdt:*' -p PID`: the probes, as
        bpftrace lists them (also with -v: it knows no more about them)."""
        search = user_listing_search(self, pattern, pid)
        if search is None:
            return []
        target, query = search
        lines = _probes(uprobe_targets.candidates(target, pid, listing=True))
        return ["usdt:" + ":".join(entry) for entry in uprobe_targets.match_lines(lines, query)]
