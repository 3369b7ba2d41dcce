"""Addresses -> symbols, and stacks printed the way bpftrace prints them.

Kernel addresses resolve through bcc's kernel symbol cache (/proc/kallsyms);
user addresses through bcc's per-process cache (its /proc/PID/maps and the
mapped files' symbols, C++ names demangled). Once a process has exited bcc
knows nothing about it; then, like bpftrace's per-program cache, the
address is looked up in the ELF symbols of the probed binary (exact for
non-PIE executables). What stays unknown prints as a hex address.

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

STACK_INDENT = " " * 8
UNWIND_FAILURE = (1 << 64) - 1


class Symbolizer:
    def __init__(self) -> None:
        self.binaries: list[str] = []  # the probed binaries, for processes that are gone
        self._caches: dict[int, object] = {}
        self.demangle = True
        # bcc's caches are not thread-safe, and ctypes lets two threads into them at once
        # (the event loop and a Prometheus scrape, runtime/exporters/prometheus.py).
        self._lock = threading.Lock()

    def use_binaries(self, paths: list[str]) -> None:
        self.binaries = [p for p in dict.fromkeys(paths) if p]

    def _cache(self, pid: int):
        cache = self._caches.get(pid)
        if cache is None:
            from pytrace.runtime.bcc_support import bcc

            cache = self._caches[pid] = bcc().SymbolCache(pid)
        return cache

    # ------------------------------------------------------------ one address
    def kernel(self, addr: int) -> tuple[str, int] | None:
        with self._lock:
            name, offset, _module = self._cache(-1).resolve(addr, False)
        return (name.decode(errors="replace"), offset) if name else None

    def user(self, addr: int, pid: int) -> tuple[str, int, str] | None:
        """(name, offset, module) of a user address in process pid."""
        if pid > 0 and os.path.exists(f"/proc/{pid}/maps"):
            with self._lock:
                name, offset, module = self._cache(pid).resolve(addr, self.demangle)
            if name:
                return name.decode(errors="replace"), offset, (module or b"").decode(errors="replace")
        for path in self.binaries:
            found = _elf_function_at(path, addr)
            if found is not None:
                name, offset = found
                return (demangle(name) if self.demangle else name), offset, path
        return None

    # ------------------------------------------------------------ bpftrace's text
    def ksym(self, addr: int) -> str:
        found = self.kernel(addr)
        return found[0] if found else hex_address(addr)

    def usym(self, addr: int, pid: int) -> str:
        found = self.user(addr, pid)
        return found[0] if found else hex_address(addr)

    def stack(self, frames: list[int], kernel: bool, mode: str, pid: int = -1) -> str:
        """BPFtrace::get_stack: a newline, then one line per frame."""
        lines = ["\n"]
        for addr in frames:
            if addr == UNWIND_FAILURE:
                lines.append(f"{STACK_INDENT}<unwind failure>\n")
                break
            if mode == "raw":
                lines.append(f"{addr:x}\n")
                continue
            if kernel:
                found = self.kernel(addr)
                text = f"{found[0]}+{found[1]}" if found else hex_address(addr)
            else:
                ufound = self.user(addr, pid)
                text = f"{ufound[0]}+{ufound[1]}" if ufound else hex_address(addr)
                if mode == "perf":
                    text += f" ({ufound[2]})" if ufound else " ([unknown])"
            lines.append(f"\t{addr:x} {text}\n" if mode == "perf" else f"{STACK_INDENT}{text}\n")
        return "".join(lines)


SYMBOLS = Symbolizer()


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
