"""Addresses -> symbols, and stacks printed the way bpftrace prints them.

Kernel addresses resolve through bcc's kernel symbol cache (/proc/kallsyms);
user addresses through bcc's process symbol caches (the process's
/proc/PID/maps and the mapped files' symbols, C++ names demangled), kept as
bpftrace's cache_user_symbols (config or BPFTRACE_CACHE_USER_SYMBOLS) says:

* per_pid: one cache per process (the default while ASLR is on);
* per_program (the default with -c, or with ASLR off): the address is first
  looked up in the ELF symbols of the process's executable (or, once the
  process is gone, of the probed binary: exact for non-PIE executables),
  then in one cache per executable;
* none: a fresh cache for every address.

What stays unknown prints as a hex address. With show_debug_info (config,
on by default as in bpftrace), a user frame is followed by its source
`@file:line` and preceded by `[inlined]` frames for the functions inlined
at the address, from DWARF (lang/dwarf_frames.py).

bcc is imported lazily (runtime/bcc_support.py): programs without stacks or
symbols never load it.

The decoders registered in DECODERS turn the raw bytes of a `kstack`,
`ustack`, `ksym` or `usym` value (layouts from lang/types.py) into the
text bpftrace prints: a stack is "\\n" + one line per frame, so as a map
key it prints as `@[\\n        func+off\\n]: 3`.
"""

from __future__ import annotations

import bisect
import os
import struct
import threading
from functools import lru_cache

from pytrace.lang import symtab
from pytrace.lang.demangle import demangle as cxx_demangle
from pytrace.runtime import symbol_settings

STACK_INDENT = " " * 8
UNWIND_FAILURE = (1 << 64) - 1
CACHE_MODES = ("per_pid", "per_program", "none")


class Symbolizer:
    def __init__(self) -> None:
        self.binaries: list[str] = []  # the probed binaries, for processes that are gone
        self._caches: dict[int, object] = {}
        self._exe_caches: dict[str, object] = {}  # per_program: one bcc cache per executable
        self._maps: dict[int, list[tuple[int, int, int, str]]] = {}  # pid -> (start, end, offset, path)
        self.demangle = True
        self.show_debug_info = True
        self.cache_mode = "per_pid"
        # bcc's caches are not thread-safe, and ctypes lets two threads into them at once
        # (the event loop and a Prometheus scrape, runtime/exporters/prometheus.py).
        self._lock = threading.Lock()

    def use_binaries(self, paths: list[str]) -> None:
        self.binaries = [p for p in dict.fromkeys(paths) if p]

    def configure(self, show_debug_info: bool = True, cache_user_symbols: str = "") -> None:
        """A run's settings; cache_user_symbols "" is bpftrace's default for a run without -c."""
        self.show_debug_info = show_debug_info
        self.cache_mode = cache_user_symbols if cache_user_symbols in CACHE_MODES else \
            ("per_pid" if aslr_enabled() else "per_program")
        self._caches.clear()
        self._exe_caches.clear()
        self._maps.clear()

    def _cache(self, pid: int):
        cache = self._caches.get(pid)
        if cache is None:
            from pytrace.runtime.bcc_support import bcc

            cache = self._caches[pid] = bcc().SymbolCache(pid)
        return cache

    def _user_cache(self, pid: int, exe: str):
        """The bcc cache to resolve a user address of pid with, as cache_user_symbols says."""
        alive = pid > 0 and os.path.exists(f"/proc/{pid}/maps")
        if self.cache_mode == "per_program" and exe:
            cache = self._exe_caches.get(exe)
            if cache is None and alive:
                from pytrace.runtime.bcc_support import bcc

                cache = self._exe_caches[exe] = bcc().SymbolCache(pid)
            return cache
        if not alive:
            return None
        if self.cache_mode == "none":
            from pytrace.runtime.bcc_support import bcc

            return bcc().SymbolCache(pid)
        return self._cache(pid)

    # ------------------------------------------------------------ one address
    def kernel(self, addr: int) -> tuple[str, int] | None:
        with self._lock:
            name, offset, _module = self._cache(-1).resolve(addr, False)
        return (name.decode(errors="replace"), offset) if name else None

    def user(self, addr: int, pid: int) -> tuple[str, int, str] | None:
        """(name, offset, module) of a user address in process pid."""
        found = self._user(addr, pid)
        return found[:3] if found else None

    def _user(self, addr: int, pid: int) -> tuple[str, int, str, int | None] | None:
        """(name, offset, module, the address in the module's ELF or None)."""
        exe = ""
        if self.cache_mode == "per_program":
            exe = _pid_exe(pid) or (self.binaries[0] if len(self.binaries) == 1 else "")
            found = _elf_function_at(exe, addr) if exe else None
            if found is not None:
                name, offset = found
                return (demangle(name) if self.demangle else name), offset, exe, addr
        with self._lock:
            cache = self._user_cache(pid, exe)
            name, offset, module = cache.resolve(addr, self.demangle) if cache is not None else (None, 0, None)
        if name:
            path = (module or b"").decode(errors="replace")
            return name.decode(errors="replace"), offset, path, None
        if self.cache_mode == "per_pid" and not os.path.exists(f"/proc/{pid}/maps"):
            for path in self.binaries:  # the process is gone: the probed binaries' symbols
                found = _elf_function_at(path, addr)
                if found is not None:
                    name, offset = found
                    return (demangle(name) if self.demangle else name), offset, path, addr
        return None

    def _module_vaddr(self, pid: int, addr: int) -> int | None:
        """Where a process's address lies in its mapped file's ELF (from /proc/PID/maps)."""
        for attempt in (0, 1):
            if attempt or pid not in self._maps:
                self._maps[pid] = _read_maps(pid)
            for start, end, offset, path in self._maps[pid]:
                if start <= addr < end:
                    from pytrace.lang import elf

                    try:
                        return elf.open_elf(path).vaddr_of_offset(addr - start + offset)
                    except (elf.ElfError, OSError, ValueError):
                        return None
        return None

    # ------------------------------------------------------------ bpftrace's text
    def ksym(self, addr: int) -> str:
        found = self.kernel(addr)
        return found[0] if found else hex_address(addr)

    def usym(self, addr: int, pid: int) -> str:
        found = self.user(addr, pid)
        return found[0] if found else hex_address(addr)

    def user_frame(self, addr: int, pid: int, perf: bool) -> list[str]:
        """The lines of one user stack frame (without indentation): inlined
        functions first when show_debug_info finds them."""
        found = self._user(addr, pid)
        if found is None:
            return [hex_address(addr) + (" ([unknown])" if perf else "")]
        name, offset, module, vaddr = found
        code = []
        if self.show_debug_info:
            if vaddr is None:
                vaddr = self._module_vaddr(pid, addr)
            if vaddr is not None:
                from pytrace.lang.dwarf_frames import code_frames

                code = code_frames(module, vaddr)
        lines = [f"{f.name} (inlined)" if perf else f"[inlined] {f.name}@{f.path}:{f.line}" for f in code[:-1]]
        text = f"{name}+{offset}"
        if perf:
            text += f" ({module})"
        elif code:
            text += f"@{code[-1].path}:{code[-1].line}"
        return lines + [text]

    def stack(self, frames: list[int], kernel: bool, mode: str, pid: int = -1) -> str:
        """BPFtrace::get_stack: a newline, then one line per frame."""
        lines = ["\n"]
        perf = mode == "perf"
        for addr in frames:
            if addr == UNWIND_FAILURE:
                lines.append(f"{STACK_INDENT}<unwind failure>\n")
                break
            if mode == "raw":
                lines.append(f"{addr:x}\n")
                continue
            if kernel:
                found = self.kernel(addr)
                texts = [f"{found[0]}+{found[1]}" if found else hex_address(addr)]
            else:
                texts = self.user_frame(addr, pid, perf)
            for text in texts:
                lines.append(f"\t{addr:x} {text}\n" if perf else f"{STACK_INDENT}{text}\n")
        return "".join(lines)


def aslr_enabled() -> bool:
    """bpftrace's is_aslr_enabled(): /proc/sys/kernel/randomize_va_space above 0 (or unreadable)."""
    try:
        with open("/proc/sys/kernel/randomize_va_space") as f:
            return int(f.read().strip() or 1) >= 1
    except (OSError, ValueError):
        return True


def _pid_exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe") if pid > 0 else ""
    except OSError:
        return ""


def _read_maps(pid: int) -> list[tuple[int, int, int, str]]:
    out = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    out.append((start, end, int(parts[2], 16), parts[5].rstrip("\n")))
    except (OSError, ValueError):
        pass
    return out


SYMBOLS = Symbolizer()
SYMBOLS.configure(**symbol_settings.current)


def hex_address(addr: int) -> str:
    """How C++ streams print a void*: 0x..., but 0 as 0."""
    return f"0x{addr:x}" if addr else "0"


@lru_cache(maxsize=32)
def _function_table(path: str, mtime: float) -> tuple[list[int], list[tuple[int, int, str]]]:
    table = sorted((addr, size, name) for name, (addr, size) in symtab._elf_symbols(path, mtime).items() if size)
    return [t[0] for t in table], table


def _elf_function_at(path: str, addr: int) -> tuple[str, int] | None:
    try:
        starts, table = _function_table(path, os.stat(path).st_mtime)
    except OSError:
        return None
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0:
        start, size, name = table[i]
        if start <= addr < start + size:
            return name, addr - start
    return None


def demangle(name: str) -> str:
    """A C++ name demangled (in-process, lang/demangle.py), or the name itself."""
    return cxx_demangle(name)


# ---------------------------------------------------------------- decoders for maps.decode

def _u64(data: bytes, off: int) -> int:
    return struct.unpack_from("<Q", data, off)[0]


BUILD_ID_FRAME = struct.Struct("<i20sQ")  # struct bpf_stack_build_id (32 bytes: status, build id, offset/ip)
BUILD_ID_VALID = 1


def build_id_stack(data: bytes, offset: int, count: int) -> str:
    """bpftrace's format_build_id_stack: `BUILDID 0xOFFSET` per frame, or the
    bare ip (hex) where the kernel found no build id."""
    lines = ["\n"]
    for i in range(count):
        status, build_id, value = BUILD_ID_FRAME.unpack_from(data, offset + 32 * i)
        lines.append(f"{build_id.hex()} 0x{value:02x}\n" if status == BUILD_ID_VALID else f"{value:x}\n")
    return "".join(lines)


def _stack(layout: dict, data: bytes) -> str:
    kernel = layout["kind"] == "kstack"
    header = 8 if kernel else 16
    count = min(_u64(data, header - 8), layout["limit"])
    if layout["mode"] == "build_id":
        return build_id_stack(data, header, count)
    frames = [_u64(data, header + 8 * i) for i in range(count)]
    pid = -1 if kernel else struct.unpack_from("<i", data, 0)[0]
    return SYMBOLS.stack(frames, kernel, layout["mode"], pid)


def _ksym(layout: dict, data: bytes) -> str:
    return SYMBOLS.ksym(_u64(data, 0))


def _usym(layout: dict, data: bytes) -> str:
    return SYMBOLS.usym(_u64(data, 0), struct.unpack_from("<i", data, 8)[0])


DECODERS = {"kstack": _stack, "ustack": _stack, "ksym": _ksym, "usym": _usym}
