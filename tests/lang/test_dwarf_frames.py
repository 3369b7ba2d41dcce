"""Source locations of code addresses (lang/dwarf_frames.py), checked against
binutils' addr2line at every address of a function holding inlined code, in
DWARF 5 and 4 and from a separate debug file. No kernel: compiled, never run."""

import os
import shutil
import subprocess

import pytest

from pytrace.lang.dwarf_frames import code_frames
from pytrace.lang.symtab import elf_symbol

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in ("gcc", "objcopy", "addr2line")),
                                reason="needs gcc, objcopy and addr2line")

SOURCE = r"""#include <unistd.h>
__attribute__((noinline)) int leaf(int x) { return getppid() + x; }
static inline __attribute__((always_inline)) int inner(int x) {
  return leaf(x) * 3;
}
static inline __attribute__((always_inline)) int middle(int x) {
  return inner(x) * 2 + leaf(x + 1);
}
__attribute__((noinline)) int outer(int x) {
  return middle(x) + 1;
}
int main(void) { int s = 0; for (volatile int i = 0; i < 2; i++) s += outer(i); return s == 7; }
"""


@pytest.fixture(scope="module", params=["dwarf5", "dwarf4", "debuglink"])
def binary(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    (d / "inl.c").write_text(SOURCE)
    flag = "-gdwarf-4" if request.param == "dwarf4" else "-g"
    subprocess.run(["gcc", flag, "-O1", "-no-pie", "-o", "inl", "inl.c"], cwd=d, check=True)
    path = str(d / "inl")
    if request.param == "debuglink":
        (d / ".debug").mkdir()
        subprocess.run(["objcopy", "--only-keep-debug", path, str(d / ".debug" / "inl.debug")], check=True)
        subprocess.run(["objcopy", "--strip-debug", f"--add-gnu-debuglink={d / '.debug' / 'inl.debug'}", path],
                       check=True)
    return path


def _addr2line(binary: str, addrs: list[int]) -> list[list[tuple[str, str]]]:
    """Per address, binutils' (function, file:line) frames, innermost first."""
    out = []
    for addr in addrs:
        lines = subprocess.run(["addr2line", "-f", "-i", "-e", binary, hex(addr)], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        out.append([(lines[i], lines[i + 1].split(" ")[0]) for i in range(0, len(lines) - 1, 2)])
    return out


def test_every_address_of_a_function_matches_addr2line(binary):
    start, size = elf_symbol(binary, "outer")
    addrs = list(range(start, start + size))
    inlined_seen = 0
    for addr, expected in zip(addrs, _addr2line(binary, addrs)):
        frames = code_frames(binary, addr)
        if expected[-1][1].startswith("??"):
            continue  # no line for it (addr2line and we both)
        assert [(f.name if f.inlined else "outer", f"{f.path}:{f.line}") for f in frames] == expected, hex(addr)
        inlined_seen += len(frames) > 1
    assert inlined_seen, "no inlined code in outer: the test lost its point"


def test_no_debug_info_no_frames(tmp_path):
    (tmp_path / "p.c").write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-o", "p", "p.c"], cwd=tmp_path, check=True)
    path = str(tmp_path / "p")
    assert code_frames(path, elf_symbol(path, "main")[0]) == []
    assert code_frames(os.path.join(str(tmp_path), "missing"), 0x401000) == []


def test_without_pyelftools_no_frames(binary, monkeypatch):
    """A runtime-only install (no pyelftools): stack frames print without source locations."""
    from pytrace.lang import dwarf_frames

    start, _ = elf_symbol(binary, "outer")
    assert code_frames(binary, start)
    monkeypatch.setattr(dwarf_frames, "supported", lambda: False)
    assert code_frames(binary, start) == []
