"""A small pure-Python ELF reader for user-space probes: symbols (.symtab
and .dynsym, with their sizes), address -> file offset through the PT_LOAD
program headers, and SystemTap USDT notes (.note.stapsdt). 64-bit
little-endian ELF only (x86_64).

The reader never trusts the file: it maps only regular files (a device,
FIFO or /proc file is refused before it is opened), and every header,
table and string it reads is bounds-checked, so a truncated or corrupt
file is one ElfError ("PATH: corrupt ELF file: ..."), never a struct.error,
IndexError or OverflowError. Which binary a probe names is
lang/binaries.py's business."""

from __future__ import annotations

import mmap
import os
import stat
import struct
from pytrace.lang.records import record
from functools import lru_cache

SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM, SHT_NOBITS = 2, 7, 11, 8
STT_FUNC, STT_GNU_IFUNC = 2, 10
ET_EXEC, ET_DYN = 2, 3
PT_LOAD = 1
NT_STAPSDT = 3
MAX_TABLE_ENTRIES = 1 << 24  # no real binary has more sections, segments or symbols


class ElfError(Exception):
    pass


@record(frozen=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int


@record(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    kind: int  # STT_FUNC, STT_OBJECT...


@record(frozen=True)
class UsdtNote:
    provider: str
    name: str
    pc: int  # virtual address of the probe's nop, already adjusted for .stapsdt.base
    semaphore: int  # virtual address of the semaphore (0: none)
    args: str  # argument spec, e.g. "-4@%edi 8@-16(%rbp)"


def _map_file(path: str):
    """The file's bytes (a read-only mapping): regular files only."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ElfError(f"{path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ElfError(f"{path} is not a regular file")
    if st.st_size < 64:
        raise ElfError(f"{path} is not an ELF file")
    try:
        with open(path, "rb") as f:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as e:
        raise ElfError(f"{path}: {getattr(e, 'strerror', None) or e}") from None


class ElfFile:
    def __init__(self, path: str, data=None) -> None:
        self.path = path
        self.data = _map_file(path) if data is None else data
        d = self.data
        if d[:4] != b"\x7fELF":
            raise ElfError(f"{path} is not an ELF file")
        if len(d) < 64:
            self._corrupt("shorter than an ELF header")
        if d[4] != 2 or d[5] != 1:
            raise ElfError(f"{path}: only 64-bit little-endian ELF files are supported")
        (self.e_type, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         shstrndx) = self._unpack("<HHIQQQIHHHHHH", 16, "ELF header")
        self.segments = []  # (vaddr, memsz, offset, filesz) of PT_LOAD segments
        if phnum and phentsize < 56:
            self._corrupt("program header size")
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = self._unpack(
                "<IIQQQQQQ", phoff + i * phentsize, "program header")
            if p_type == PT_LOAD:
                self.segments.append((p_vaddr, p_memsz, p_offset, p_filesz))
        if shnum and shentsize < 64:
            self._corrupt("section header size")
        raw = [self._unpack("<IIQQQQIIQQ", shoff + i * shentsize, "section header") for i in range(shnum)]
        names = raw[shstrndx] if shstrndx < len(raw) else None
        self.sections: list[Section] = []
        for name, typ, _flags, addr, off, size, link, _info, _align, entsize in raw:
            if typ != SHT_NOBITS and off + size > len(d):
                self._corrupt("a section lies beyond the end of the file")
            text = self._cstr(names[4] + name, names[4] + names[5]) if names else ""
            self.sections.append(Section(text, typ, addr, off, size, link, entsize))

    # ------------------------------------------------------------ bounded reads
    def _corrupt(self, what: str):
        raise ElfError(f"{self.path}: corrupt ELF file ({what})")

    def _unpack(self, fmt: str, off: int, what: str) -> tuple:
        if off < 0 or off + struct.calcsize(fmt) > len(self.data):
            self._corrupt(f"{what} beyond the end of the file")
        return struct.unpack_from(fmt, self.data, off)

    def _cstr(self, off: int, limit: int | None = None) -> str:
        """The NUL-terminated string at off (not reading past limit)."""
        limit = len(self.data) if limit is None else min(limit, len(self.data))
        if off < 0 or off >= limit:
            return ""
        end = self.data.find(b"\0", off, limit)
        return bytes(self.data[off:limit if end < 0 else end]).decode(errors="replace")

    # ------------------------------------------------------------ queries
    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    @property
    def is_pie(self) -> bool:
        """Loaded at an address chosen at run time (PIE or shared object)."""
        return self.e_type == ET_DYN

    def symbols(self) -> dict[str, Symbol]:
        """Defined symbols by name (.symtab wins over .dynsym; versions like
        `@GLIBC_2.2.5` dropped)."""
        out: dict[str, Symbol] = {}
        for kind in (SHT_SYMTAB, SHT_DYNSYM):
            for sec in self.sections:
                if sec.type == kind:
                    for sym in self._symbol_table(sec):
                        out.setdefault(sym.name, sym)
        return out

    def _symbol_table(self, sec: Section):
        if sec.entsize < 24 or sec.link >= len(self.sections):
            return
        if sec.size // sec.entsize > MAX_TABLE_ENTRIES:
            self._corrupt("symbol table size")
        strtab = self.sections[sec.link]
        for off in range(sec.offset, sec.offset + sec.size - sec.entsize + 1, sec.entsize):
            st_name, st_info, _other, shndx, value, size = self._unpack("<IBBHQQ", off, "symbol")
            if shndx == 0 or not value or not st_name:
                continue
            name = self._cstr(strtab.offset + st_name, strtab.offset + strtab.size).partition("@")[0]
            if name:
                yield Symbol(name, value, size, st_info & 0xF)

    def functions(self) -> dict[str, int]:
        """Function symbol -> virtual address (size-0 symbols included)."""
        return {name: sym.addr for name, sym in self.symbols().items()
                if sym.kind in (STT_FUNC, STT_GNU_IFUNC)}

    def function_symbols(self) -> dict[str, Symbol]:
        return {name: sym for name, sym in self.symbols().items() if sym.kind in (STT_FUNC, STT_GNU_IFUNC)}

    def file_offset(self, vaddr: int) -> int:
        """The file offset of a virtual address (what uprobes attach to)."""
        for start, size, offset, _filesz in self.segments:
            if start <= vaddr < start + size:
                return vaddr - start + offset
        raise ElfError(f"address {vaddr:#x} is not in a loadable segment of {self.path}")

    def vaddr_of_offset(self, offset: int) -> int | None:
        """The virtual address a file offset is loaded at (None: not in a loadable segment)."""
        for start, _size, seg_offset, filesz in self.segments:
            if seg_offset <= offset < seg_offset + filesz:
                return offset - seg_offset + start
        return None

    def usdt_notes(self) -> list[UsdtNote]:
        sec = self.section(".note.stapsdt")
        if sec is None:
            return []
        base_sec = self.section(".stapsdt.base")
        notes: list[UsdtNote] = []
        pos, end = sec.offset, sec.offset + sec.size
        while pos + 12 <= end:
            namesz, descsz, ntype = self._unpack("<III", pos, "USDT note")
            name_off = pos + 12
            desc_off = name_off + ((namesz + 3) & ~3)
            pos = desc_off + ((descsz + 3) & ~3)
            if pos > end:
                self._corrupt("USDT note beyond its section")
            if ntype != NT_STAPSDT or bytes(self.data[name_off:name_off + namesz]).rstrip(b"\0") != b"stapsdt":
                continue
            if descsz < 24 + 3:
                continue  # too short for three addresses and three strings
            pc, base, sema = self._unpack("<QQQ", desc_off, "USDT note")
            strings = bytes(self.data[desc_off + 24:desc_off + descsz]).split(b"\0")
            provider, probe, args = (s.decode(errors="replace") for s in (strings + [b"", b"", b""])[:3])
            if not probe:
                continue
            if base_sec is not None and base:
                pc += base_sec.addr - base
            notes.append(UsdtNote(provider, probe, pc, sema, args))
        return notes


@lru_cache(maxsize=32)
def _load(path: str, mtime: float, size: int) -> ElfFile:
    return ElfFile(path)


def open_elf(path: str) -> ElfFile:
    """The ELF file at path (cached while it is unchanged)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ElfError(f"{path}: {e.strerror}") from None
    # /proc/PID/root/... cannot be canonicalised from another mount namespace
    real = path if path.startswith("/proc/") else os.path.realpath(path)
    return _load(real, st.st_mtime, st.st_size)


# ---------------------------------------------------------------- uprobe offsets

UNSAFE_HINT = ("Use --unsafe to force attachment. WARNING: This option could lead to data corruption "
               "in the target process.")


def function_at(image: ElfFile, vaddr: int) -> Symbol | None:
    """The function symbol whose bytes hold vaddr (or that starts there)."""
    for sym in image.function_symbols().values():
        if sym.addr <= vaddr < sym.addr + sym.size or sym.addr == vaddr:
            return sym
    return None


def uprobe_offset(path: str, func: str, offset: int = 0, address: int | None = None,
                  retprobe: bool = False, unsafe: bool = False) -> int:
    """The file offset a uprobe on FUNC+OFFSET (or on an address) attaches
    to, with bpftrace's checks: the symbol exists, the offset lies inside
    the function, a size-0 symbol needs --unsafe. With --unsafe, an address
    in a file that is no ELF (a flat binary) or outside every function is
    taken as the file offset itself."""
    try:
        image = open_elf(path)
    except ElfError:
        if address is not None and unsafe:
            return address
        raise
    if not func:
        sym = function_at(image, address or 0)
        if sym is None:
            if unsafe:
                return address or 0
            raise ElfError(f"Could not resolve address: {path}:{address or 0:#x}")
        func, offset = sym.name, (address or 0) - sym.addr
    sym = image.function_symbols().get(func)
    if sym is None:
        raise ElfError(f"Could not resolve symbol: {path}:{func}")
    if retprobe and offset:
        raise ElfError(f"uretprobes cannot be attached at function offset. (address resolved to: {func}+{offset})")
    if sym.size == 0 and offset == 0:
        if not unsafe:
            raise ElfError(f"Could not determine boundary for {func} (symbol has size 0).\n{UNSAFE_HINT}")
    elif offset >= sym.size:
        raise ElfError(f"Offset outside the function bounds ('{func}' size is {sym.size})")
    return image.file_offset(sym.addr) + offset


# ---------------------------------------------------------------- C++ names

def demangle(names: list[str]) -> dict[str, str]:
    """Mangled C++ name -> demangled name (in-process: lang/demangle.py)."""
    from pytrace.lang.demangle import demangle as demangle_one

    return {n: demangle_one(n) for n in names if n.startswith("_Z")}


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
