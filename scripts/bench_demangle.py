"""Demangling a symbolised C++ stack: one c++filt process per name (what
runtime/symbols.py did) against libstdc++'s __cxa_demangle in-process
(lang/demangle.py). Usage: python scripts/bench_demangle.py [ELF]
(default: libstdc++ itself, whose exported names are all C++)."""

import os
import subprocess
import sys
import time

from pytrace.lang import symtab
from pytrace.lang.demangle import _functions, demangle

FRAMES = 32  # a deep stack's worth of frames


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
    names = sorted(n for n in symtab._elf_symbols(path, os.stat(path).st_mtime) if n.startswith("_Z"))[:FRAMES]
    start = time.perf_counter()
    by_process = [subprocess.run(["c++filt", n], capture_output=True, text=True).stdout.strip() for n in names]
    process_s = time.perf_counter() - start
    start = time.perf_counter()
    _functions()  # loading libstdc++ through ctypes, once per process
    load_s = time.perf_counter() - start
    demangle.cache_clear()
    start = time.perf_counter()
    in_process = [demangle(n) for n in names]
    inproc_s = time.perf_counter() - start
    assert by_process == in_process, [(a, b) for a, b in zip(by_process, in_process) if a != b]
    print(f"{len(names)} frames of {path}: c++filt per name {process_s * 1000:.1f} ms; "
          f"__cxa_demangle in-process {inproc_s * 1000:.2f} ms (+{load_s * 1000:.2f} ms once to load libstdc++), "
          f"{process_s / (inproc_s + load_s):.0f}x faster; same text")


if __name__ == "__main__":
    main()
