"""Compile-time symbol addresses: kaddr("name") from /proc/kallsyms and
uaddr("name") from a binary's ELF symbol tables (.symtab, then .dynsym).

Only what the type checker needs; run-time symbolisation (address -> name)
lives in runtime/symbols.py."""

from __future__ import annotations

import os
from functools import lru_cache


KALLSYMS = "/proc/kallsyms"


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
    """{name: (st_value, st_size)} of an ELF file's defined symbols ({} when
    it is not a readable 64-bit little-endian ELF file)."""
    from pytrace.lang import elf  # the ELF reader only when a symbol is looked up (start-up time)

    try:
        return {name: (sym.addr, sym.size) for name, sym in elf.open_elf(path).symbols().items()}
    except elf.ElfError:
        return {}


def elf_symbol(path: str, name: str) -> tuple[int, int] | None:
    """(address, size) of a defined symbol in an ELF binary, or None."""
    try:
        return _elf_symbols(path, os.stat(path).st_mtime).get(name)
    except OSError:
        return None
