"""A small pure-Python ELF reader for user-space probes: function symbols
(.symtab and .dynsym), address -> file offset through the PT_LOAD program
headers, and SystemTap USDT notes (.note.stapsdt). 64-bit little-endian
ELF only (x86_64).

Also resolves a probe's binary the way bpftrace does: a path, a program on
$PATH, or a library name (`libc`) looked up in /proc/PID/maps (with -p) or
in the dynamic loader's cache (`ldconfig -p`)."""

from __future__ import annotations

import fnmatch
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from functools import lru_cache

SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM = 2, 7, 11
STT_FUNC, STT_GNU_IFUNC = 2, 10
PT_LOAD = 1
NT_STAPSDT = 3


class ElfError(Exception):
    pass


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int


@dataclass(frozen=True)
class UsdtNote:
    provider: str
    name: str
    pc: int  # virtual address of the probe's nop, already adjusted for .stapsdt.base
    semaphore: int  # virtual address of the semaphore (0: none)
    args: str  # argument spec, e.g. "-4@%edi 8@-16(%rbp)"


class ElfFile:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                self.data = f.read()
        except OSError as e:
            raise ElfError(f"{path}: {e.strerror}") from None
        d = self.data
        if d[:4] != b"\x7fELF":
            raise ElfError(f"{path} is not an ELF file")
        if d[4] != 2 or d[5] != 1:
            raise ElfError(f"{path}: only 64-bit little-endian ELF files are supported")
        (self.e_type, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", d, 16)
        self.segments = []  # (vaddr, memsz, offset) of PT_LOAD segments
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, _, p_memsz, _ = struct.unpack_from("<IIQQQQQQ", d, phoff + i * phentsize)
            if p_type == PT_LOAD:
                self.segments.append((p_vaddr, p_memsz, p_offset))
        raw = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
        names = raw[shstrndx] if shstrndx < len(raw) else None
        self.sections: list[Section] = []
        for name, typ, _flags, addr, off, size, link, _info, _align, entsize in raw:
            text = self._cstr(names[4] + name) if names else ""
            self.sections.append(Section(text, typ, addr, off, size, link, entsize))

    def _cstr(self, off: int) -> str:
        end = self.data.find(b"\0", off)
        return self.data[off:end].decode(errors="replace")

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def functions(self) -> dict[str, int]:
        """Function symbol -> virtual address, from .symtab and .dynsym."""
        out: dict[str, int] = {}
        for sec in self.sections:
            if sec.type not in (SHT_SYMTAB, SHT_DYNSYM) or not sec.entsize:
                continue
            strtab = self.sections[sec.link]
            for off in range(sec.offset, sec.offset + sec.size, sec.entsize):
                st_name, st_info, _other, shndx, value, _size = struct.unpack_from("<IBBHQQ", self.data, off)
                if st_info & 0xF not in (STT_FUNC, STT_GNU_IFUNC) or shndx == 0 or not value:
                    continue
                name = self._cstr(strtab.offset + st_name).partition("@")[0]
                if name:
                    out.setdefault(name, value)
        return out

    def file_offset(self, vaddr: int) -> int:
        """The file offset of a virtual address (what uprobes attach to)."""
        for start, size, offset in self.segments:
            if start <= vaddr < start + size:
                return vaddr - start + offset
        raise ElfError(f"address {vaddr:#x} is not in a loadable segment of {self.path}")

    def usdt_notes(self) -> list[UsdtNote]:
        sec = self.section(".note.stapsdt")
        if sec is None:
            return []
        base_sec = self.section(".stapsdt.base")
        notes: list[UsdtNote] = []
        pos, end = sec.offset, sec.offset + sec.size
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", self.data, pos)
            name_off = pos + 12
            desc_off = name_off + ((namesz + 3) & ~3)
            pos = desc_off + ((descsz + 3) & ~3)
            if ntype != NT_STAPSDT or self.data[name_off:name_off + namesz].rstrip(b"\0") != b"stapsdt":
                continue
            pc, base, sema = struct.unpack_from("<QQQ", self.data, desc_off)
            strings = self.data[desc_off + 24:desc_off + descsz].split(b"\0")
            provider, probe, args = (s.decode(errors="replace") for s in (strings + [b"", b"", b""])[:3])
            if base_sec is not None and base:
                pc += base_sec.addr - base
            notes.append(UsdtNote(provider, probe, pc, sema, args))
        return notes


@lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> ElfFile:
    return ElfFile(path)


def open_elf(path: str) -> ElfFile:
    try:
        mtime = os.stat(path).st_mtime
    except OSError as e:
        raise ElfError(f"{path}: {e.strerror}") from None
    return _load(os.path.realpath(path), mtime)


# ---------------------------------------------------------------- C++ names

def demangle(names: list[str]) -> dict[str, str]:
    """Mangled C++ name -> demangled name (through binutils' c++filt)."""
    mangled = [n for n in names if n.startswith("_Z")]
    if not mangled or shutil.which("c++filt") is None:
        return {}
    out = subprocess.run(["c++filt"], input="\n".join(mangled) + "\n", capture_output=True, text=True).stdout
    return dict(zip(mangled, out.splitlines()))


def strip_params(demangled: str) -> str:
    """`ns::f(int, char*)` -> `ns::f` (what `cpp:` probes match against)."""
    depth = 0
    for i in range(len(demangled) - 1, -1, -1):
        ch = demangled[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
            if depth == 0:
                return demangled[:i]
    return demangled


def match_functions(elf: ElfFile, pattern: str, cpp: bool = False) -> list[str]:
    """Symbol names matching a pattern (on demangled names when cpp)."""
    funcs = sorted(elf.functions())
    if not cpp:
        return [f for f in funcs if fnmatch.fnmatchcase(f, pattern)]
    names = demangle(funcs)
    return [f for f in funcs if f in names and
            (fnmatch.fnmatchcase(strip_params(names[f]), pattern) or fnmatch.fnmatchcase(names[f], pattern))]


# ---------------------------------------------------------------- binaries

@lru_cache(maxsize=1)
def _ld_cache() -> list[tuple[str, str]]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        text = subprocess.run([ldconfig, "-p"], capture_output=True, text=True).stdout
    except OSError:
        return []
    out = []
    for line in text.splitlines()[1:]:
        name, _, path = line.strip().partition(" => ")
        if path:
            out.append(("x86-64" not in name, name.split(" ")[0], path.strip()))
    return [(soname, path) for _, soname, path in sorted(out, key=lambda e: e[0])]


_LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")


def _lib_matches(soname: str, lib: str) -> bool:
    if not lib.startswith("lib"):
        lib = "lib" + lib
    return soname == lib or soname.startswith(lib + ".so")


def resolve_binary(target: str, pid: int | None = None) -> str:
    """A probe's binary as a path: as given, in the process's maps, on $PATH,
    or a library from the loader's cache."""
    if "/" in target:
        if not os.path.exists(target):
            raise ElfError(f"{target}: No such file or directory")
        return target
    if pid:
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    path = line.split(None, 5)[5].strip() if len(line.split(None, 5)) == 6 else ""
                    if path.startswith("/") and _lib_matches(os.path.basename(path), target):
                        return f"/proc/{pid}/root{path}" if os.path.exists(f"/proc/{pid}/root{path}") else path
        except OSError:
            pass
    for soname, path in _ld_cache():
        if _lib_matches(soname, target):
            return path
    for d in _LIB_DIRS:
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                if _lib_matches(name, target):
                    return os.path.join(d, name)
    found = shutil.which(target)
    if found:
        return found
    raise ElfError(f"could not find '{target}' (not a path, a program on $PATH, or a library)")
