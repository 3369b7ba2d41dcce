"""Compile-time symbol addresses: kaddr("name") from /proc/kallsyms and
uaddr("name") from a binary's ELF symbol tables (.symtab, then .dynsym).

Only what the type checker needs; run-time symbolisation (address -> name)
lives in runtime/symbols.py."""

from __future__ import annotations

import os
import struct
from functools import lru_cache

KALLSYMS = "/proc/kallsyms"
SHT_SYMTAB, SHT_DYNSYM = 2, 11


def kernel_symbol(name: str, path: str = KALLSYMS) -> int | None:
    """The address of a kernel symbol, or None when /proc/kallsyms lacks it."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == name:
                    return int(parts[0], 16)
    except OSError:
        return None
    return None


@lru_cache(maxsize=32)
def _elf_symbols(path: str, mtime: float) -> dict[str, tuple[int, int]]:
    """{name: (st_value, st_size)} of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return {}
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out: dict[str, tuple[int, int]] = {}
    for kind in (SHT_DYNSYM, SHT_SYMTAB):  # .symtab wins: it is applied last
        for _name, stype, _fl, _addr, off, size, link, _info, _al, entsize in sections:
            if stype != kind or not entsize:
                continue
            str_off = sections[link][4]
            for i in range(off, off + size, entsize):
                st_name, _st_info, _other, shndx, value, st_size = struct.unpack_from("<IBBHQQ", data, i)
                if not st_name or shndx == 0 or not value:
                    continue
                end = data.index(b"\0", str_off + st_name)
                out[data[str_off + st_name:end].decode(errors="replace")] = (value, st_size)
    return out


def elf_symbol(path: str, name: str) -> tuple[int, int] | None:
    """(address, size) of a defined symbol in an ELF binary, or None."""
    try:
        return _elf_symbols(path, os.stat(path).st_mtime).get(name)
    except (OSError, struct.error, IndexError, ValueError):
        return None
