"""uprobe:BINARY:FUNC[+OFFSET] (`u:`) and uretprobe:BINARY:FUNC (`ur:`):
dynamic probes on user-space functions.

BINARY is a path (a glob with `*`), a program on $PATH, or a library name
(`libc`, `libc.so.6`: lang/binaries.which_so); with -p it may be left out
(the process's executable) or be `*` (every object the process maps).
FUNC is a symbol (`*` wildcards), FUNC+OFFSET, or an address;
`uprobe:BIN:cpp:"ns::f*"` (or any name containing `::`) matches demangled
C++ names. Which files a target names is lang/probes/uprobe_targets.py;
wildcards are expanded here, from the ELF's symbols. The runtime resolves
each symbol to a file offset again when it attaches
(`elf.uprobe_offset`), so a cached program still attaches after the binary
is rebuilt; that is also where a function's bounds are checked.

With the target's DWARF (lang/dwarf.py, searched in the --debuginfo dirs
too): `args.NAME` are the function's parameters, typed (a record whose
fields are the argument registers), `-lv` lists them, and
`uprobe:BINARY@FILE:LINE[:COL]` attaches at the line's first address."""

from __future__ import annotations

import os
import re
import sys
from pytrace.lang.records import record
from functools import lru_cache

from pytrace.lang import binaries, dwarf, elf
from pytrace.lang import types as T
from pytrace.lang.options import Options
from pytrace.lang.probes import uprobe_targets
from pytrace.lang.probes.base import ContextVar, NoMatches, ProbeError, ProbeProvider, ProbeSpec
from pytrace.lang.probes.kprobe import PT_REGS_ARGS, PT_REGS_AX

FUNC_TYPE = T.StringType(64)
LISTING_DEBUGINFO: list[str] = []  # --debuginfo dirs for `-lv` (set by the driver)
_WARNED_NO_DWARF: set[str] = set()
LANGUAGES = ("cpp",)


@record
class AttachPoint:
    target: str
    func: str  # "" when probing an address
    lang: str = ""
    offset: int = 0
    address: int | None = None
    source: str = ""  # FILE:LINE[:COL] of a probe attached by source location


def _uint(text: str) -> int | None:
    try:
        value = int(text, 0)
    except ValueError:
        return None
    return value if value >= 0 else None


def _open(path: str) -> elf.ElfFile:
    try:
        return elf.open_elf(path)
    except elf.ElfError as e:
        raise ProbeError(str(e)) from None


def _functions(path: str) -> list[str]:
    """A candidate file's function symbols ([] if it is not a readable ELF)."""
    try:
        return sorted(elf.open_elf(path).functions())
    except elf.ElfError:
        return []


class UprobeProvider(ProbeProvider):
    name = "uprobe"
    aliases = ("u",)
    prog_type = "kprobe"
    attach_kind = "uprobe"
    addrspace = "user"
    pt_regs_context = True
    fires_newest_first = True  # (uretprobes too)
    retprobe = False
    variable_names = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "func", "args")
    doc = "user function entry: uprobe:BINARY:FUNC[+OFFSET]"

    # ------------------------------------------------------------ parsing
    def parse(self, parts: list[str], pid: int | None, debuginfo: tuple[str, ...] = ()) -> AttachPoint:
        """The attach point's parts (after `uprobe:`) as bpftrace reads them."""
        parts = list(parts)
        if pid and (len(parts) == 1 or (len(parts) == 2 and parts[0] in LANGUAGES)):
            exe = binaries.pid_exe(pid)
            parts.insert(0, binaries.path_in_pid(pid, exe) if exe else "")
        if parts and "@" in parts[0]:
            return self.parse_source_location(parts, pid, debuginfo)
        if len(parts) not in (2, 3):
            raise ProbeError(f"{self.name} probe type requires 2 or 3 arguments, found {len(parts)}")
        target, func = parts[0], parts[-1]
        lang = parts[1] if len(parts) == 3 else ""
        if lang and lang not in LANGUAGES:
            raise ProbeError(f"unsupported language type: {lang}")
        if not target:
            raise ProbeError(f"{self.name} should have a target")
        if not binaries.has_wildcard(target) and target.startswith("lib"):
            target = binaries.which_so(target[3:], pid) or target
        ap = AttachPoint(target, func, lang or ("cpp" if "::" in func else ""))
        if "+" in func:
            if self.retprobe:
                raise ProbeError("Offset not allowed")
            if func.count("+") != 1:
                raise ProbeError("Cannot take more than one offset")
            ap.func, _, off = func.partition("+")
            offset = _uint(off)
            if not ap.func or offset is None:
                raise ProbeError(f"Invalid offset: {off}" if ap.func else "Invalid offset")
            ap.offset = offset
        elif _uint(func) is not None:
            if binaries.has_wildcard(target):
                raise ProbeError("Cannot use wildcards with absolute address")
            ap.func, ap.address = "", _uint(func)
        if not ap.func and ap.address is None:
            raise ProbeError(f"{self.name} should be attached to a function and/or address")
        return ap

    def parse_source_location(self, parts: list[str], pid: int | None, debuginfo: tuple[str, ...]) -> AttachPoint:
        """`TARGET@FILE:LINE[:COL]`: the address of the line, from the target's DWARF."""
        target, _, source = parts[0].partition("@")
        if self.retprobe:
            raise ProbeError("Source code location not allowed")
        if binaries.has_wildcard(target):
            raise ProbeError("Cannot use wildcards with source code location")
        if len(parts) not in (2, 3) or not source or not parts[1]:
            raise ProbeError("Invalid uprobe arguments, expected format: uprobe:TARGET@FILE:LINE[:COL]")
        line, col = _uint(parts[1]), _uint(parts[2]) if len(parts) == 3 else 0
        if line is None:
            raise ProbeError(f"Invalid line number: {parts[1]}")
        if col is None:
            raise ProbeError(f"Invalid column number: {parts[2]}")
        if not binaries.has_wildcard(target) and target.startswith("lib"):
            target = binaries.which_so(target[3:], pid) or target
        info = dwarf.DebugInfo.for_binary(target, dwarf.search_path(debuginfo)) if target else None
        if info is None:
            raise ProbeError(("Unspecified target binary" if not target else
                              f"No DWARF debug info found for '{target}'") + ", cannot attach by source code location.")
        try:
            address = info.line_address(source, line, col)
        except dwarf.DwarfError as e:
            raise ProbeError(str(e)) from None
        return AttachPoint(target, "", address=address, source=":".join([source, *parts[1:]]))

    # ------------------------------------------------------------ expansion
    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        return self.expand_with(None, parts, raw, Options())

    def expand_with(self, kernel, parts: list[str], raw: str, options) -> list[ProbeSpec]:
        pid, unsafe = options.pid_filter, options.unsafe
        ap = self.parse(parts, pid, options.debuginfo)
        ap.target = uprobe_targets.check_target(self.name, ap.target, pid, unsafe)
        if binaries.has_wildcard(ap.target) or binaries.has_wildcard(ap.func) or ap.lang:
            found = self._matches(ap, pid, unsafe)
            from_process = bool(pid)
        elif ap.func:
            found = [(ap.target, ap.func)] if ap.func in _open(ap.target).functions() else []
            from_process = False
        else:
            found, from_process = [(ap.target, "")], False
        if not found:
            raise NoMatches(f"{self.name} {ap.target}:{ap.func}",
                             [f"list them with: pytrace -l '{self.name}:{ap.target}:*'"])
        readable = elf.demangle([f for _, f in found])  # `func` prints C++ names demangled, as bpftrace does
        specs = [self._spec(path, func, ap, readable.get(func, func), unsafe, not from_process,
                            dwarf.search_path(options.debuginfo))
                 for path, func in found]
        # As bpftrace: a wildcard (or C++ name) attaches through uprobe_multi links (load_shared)
        multi = (binaries.has_wildcard(ap.target) or binaries.has_wildcard(ap.func) or bool(ap.lang)) \
            and not ap.offset and ap.address is None
        for spec in specs:
            spec.target["multi"] = multi
        return specs

    def _pie_vaddr(self, path: str, func: str, ap: AttachPoint) -> int | None:
        """The probed place's address in the file, when the file is loaded
        at a run-time address (PIE, shared library): uaddr() adds the bias."""
        try:
            image = elf.open_elf(path)
        except elf.ElfError:
            return None  # a flat binary (--unsafe)
        if not image.is_pie:
            return None
        if not func:
            return ap.address
        start = image.functions().get(func)
        return None if start is None else start + ap.offset

    def _candidates(self, target: str, pid: int | None, unsafe: bool, listing: bool) -> list[str]:
        """The files whose symbol tables are read, at most max_target_files() of them."""
        return uprobe_targets.candidates(target, pid, unsafe, listing, self.name, uprobe_targets.max_target_files())

    def _matches(self, ap: AttachPoint, pid: int | None, unsafe: bool) -> list[tuple[str, str]]:
        """(path, function) pairs matching `target:func` (demangled for cpp)."""
        lines = [(path, f) for path in self._candidates(ap.target, pid, unsafe, False) for f in _functions(path)]
        pattern = f"{ap.target}:{ap.func}"
        found = set(uprobe_targets.match_lines(lines, pattern))
        if ap.lang == "cpp":
            names = elf.demangle([f for _, f in lines])
            with_params = "(" in ap.func
            for path, f in lines:
                if f in names:
                    shown = names[f] if with_params else elf.strip_params(names[f])
                    if binaries.wildcard_match(f"{path}:{shown}", pattern):
                        found.add((path, f))
        return sorted(found, key=":".join)

    def _spec(self, path: str, func: str, ap: AttachPoint, readable: str, unsafe: bool,
              cacheable: bool, debuginfo: str) -> ProbeSpec:
        where = func if ap.address is None else str(ap.address)
        name = f"{self.name}:{path}:{where}{'+' + str(ap.offset) if ap.offset else ''}"
        if ap.source:
            name = f"{self.name}:{path}@{ap.source}"
        return ProbeSpec(
            self.name, name,
            {"binary": path, "func": func, "offset": ap.offset, "address": ap.address, "readable": readable,
             "pie_vaddr": self._pie_vaddr(path, func, ap), "debuginfo": debuginfo},
            {"kind": self.attach_kind, "binary": path, "func": func, "offset": ap.offset, "address": ap.address,
             "retprobe": self.retprobe, "unsafe": unsafe},
            cacheable=cacheable)

    def load_shared(self, specs: list[ProbeSpec], calls: set[str]) -> tuple[str, list[dict]]:
        """A wildcard's functions, one program for all: one uprobe_multi attach
        dict per binary (runtime/uprobe_multi.py; one perf event per function
        where the kernel has no uprobe_multi links)."""
        if not all(s.target.get("multi") for s in specs):
            return super().load_shared(specs, calls)
        by_binary: dict[str, list[str]] = {}
        for spec in specs:
            by_binary.setdefault(spec.target["binary"], []).append(spec.target["func"])
        unsafe = specs[0].attach.get("unsafe", False)
        return "uprobe_multi", [{"kind": "uprobe_multi", "binary": binary, "funcs": funcs, "retprobe": self.retprobe,
                                 "unsafe": unsafe, "attach_points": len(funcs)}
                                for binary, funcs in by_binary.items()]

    # ------------------------------------------------------------ variables
    def debug_info(self, spec: ProbeSpec) -> dwarf.DebugInfo | None:
        """The target's DWARF (cached per file version and search path)."""
        return dwarf.DebugInfo.for_binary(spec.target["binary"], spec.target["debuginfo"])

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        """`args`: the function's parameters from DWARF (up to six, as
        bpftrace), each read from the register that passes it."""
        if self.retprobe:
            return None
        if not spec.target["func"]:
            raise ProbeError(f'Could not parse arguments of "{spec.name}": no function (probe attached by address)')
        info = self.debug_info(spec)
        if info is None:
            raise ProbeError(f'Could not parse arguments of "{spec.name}": no debuginfo found for '
                             f'{spec.target["binary"]}')
        record = _args_record(info, spec.target["func"])
        if isinstance(record, str):
            raise ProbeError(f'Could not parse arguments of "{spec.name}": {record}')
        spec.cacheable = False  # typed from the binary, which may be rebuilt
        return record

    def named_type(self, name: str, spec: ProbeSpec) -> T.Type | None:
        """A struct or union of the target's DWARF (`(struct Foo *)arg0`)."""
        info = self.debug_info(spec)
        if info is None:
            return None
        spec.cacheable = False
        return info.struct(name)

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name == "func":
            return ContextVar(FUNC_TYPE, const=spec.target["readable"] or hex(spec.target["address"] or 0))
        if name == "retval" and self.retprobe:
            return ContextVar(T.S64, PT_REGS_AX)
        m = re.fullmatch(r"arg(\d)", name)
        if m and not self.retprobe and int(m.group(1)) < len(PT_REGS_ARGS):
            return ContextVar(T.U64, PT_REGS_ARGS[int(m.group(1))])
        return None

    # ------------------------------------------------------------ listing
    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return self.list_probes_in(pattern, verbose, None)

    def list_probes_in(self, pattern: str, verbose: bool, pid: int | None) -> list[str]:
        """`-l 'uprobe:BINARY:PATTERN'` (and with -p, `-l 'uprobe:*'`): the
        functions of the binaries, as bpftrace lists them."""
        search = user_listing_search(self, pattern, pid)
        if search is None:
            return []
        target, query = search
        lines = [(path, f) for path in self._candidates(target, pid, False, True) for f in _functions(path)]
        out = []
        for path, f in uprobe_targets.match_lines(lines, query):
            out.append(f"{self.name}:{path}:{f}")
            if verbose and not self.retprobe:
                out.extend(f"    {param}" for param in self.param_listing(path, f))
        return out

    def param_listing(self, path: str, func: str) -> list[str]:
        """`-lv`: a function's parameters as bpftrace lists them (warns once when the file has no DWARF)."""
        info = dwarf.DebugInfo.for_binary(path, dwarf.search_path(LISTING_DEBUGINFO))
        if info is None:
            if path not in _WARNED_NO_DWARF:
                _WARNED_NO_DWARF.add(path)
                sys.stderr.write(f'WARNING: No DWARF found for "{path}", cannot show parameter info\n')
            return []
        return info.param_listing(func, _address(path, func))


def _address(path: str, func: str) -> int | None:
    try:
        return elf.open_elf(path).functions().get(func)
    except elf.ElfError:
        return None


@lru_cache(maxsize=256)
def _args_record(info: dwarf.DebugInfo, func: str) -> T.RecordType | str:
    """The `args` record of a function (one object per function and binary
    version, so two uses of `args` have the same type; fields are 8 bytes
    apart), or why there is none, in bpftrace's words."""
    params = info.params(func, _address(info.binary, func)) or []
    if len(params) > len(PT_REGS_ARGS):
        return "'args' builtin is not supported for probes with stack-passed arguments."
    fields, registers = {}, {}
    for i, (reg, p) in enumerate(zip(PT_REGS_ARGS, params)):
        t = dwarf.to_type(p.type_die)
        if p.name and t is not None and (t.is_scalar or isinstance(t, T.BoolType)):
            fields[p.name] = T.RecordField(p.name, 8 * i, t)
            registers[p.name] = reg
    return T.RecordType(f"struct {func}_args", 8 * len(params), fields, ctx_offsets=registers)


def user_listing_search(provider: ProbeProvider, pattern: str, pid: int | None) -> tuple[str, str] | None:
    """For `-l PATTERN`: (target, what to match `PATH:NAME...` lines
    against), or None when this provider is not listed. As in bpftrace, a
    wildcard probe type lists user-space probes only with -p or an existing
    file as target, and never the return probes."""
    kind, _, rest = pattern.partition(":")
    parts = pattern.split(":")
    if binaries.has_wildcard(kind) or len(parts) == 1:
        if getattr(provider, "retprobe", False) or not binaries.wildcard_match(provider.name, kind or "*"):
            return None
        specific = len(parts) > 1 and parts[1] and not binaries.has_wildcard(parts[1]) and \
            os.path.exists(parts[1])
        if not (pid or specific):
            return None
    elif kind != provider.name:
        return None
    if len(parts) == 1:
        rest = "*"
    if len(parts) > 2:
        return parts[1], rest
    return "*", "*:" + rest


class UretprobeProvider(UprobeProvider):
    name = "uretprobe"
    aliases = ("ur",)
    retprobe = True
    variable_names = ("retval", "func")
    doc = "user function return: uretprobe:BINARY:FUNC"
