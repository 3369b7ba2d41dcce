"""Stacks and symbols in the live kernel: kstack/ustack (bpftrace, perf and
raw modes, as map keys and in printf), ksym/usym, kaddr/uaddr, C++ names."""

import re
import shutil
import subprocess

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.kernel

GETPPID_3 = py_workload("import os\nfor _ in range(3): os.getppid()")
FRAME = re.compile(r"^        [A-Za-z_.$][\w.$]*\+\d+$")

C_SOURCE = r"""
#include <unistd.h>
int counter;
__attribute__((noinline)) int b(int x) { return getppid() + x; }
__attribute__((noinline)) int a(int x) { return b(x + 1) + 1; }
int main(void) { int s = 0; for (int i = 0; i < 3; i++) s += a(i); counter = s; return 0; }
"""

CXX_SOURCE = r"""
namespace shapes {
struct Circle { int r; __attribute__((noinline)) int area(int scale) const { return 3 * r * r * scale; } };
}
__attribute__((noinline)) int measure(const shapes::Circle &c) { return c.area(2); }
int main() { shapes::Circle c{2}; int t = 0; for (int i = 0; i < 2; i++) t += measure(c); return t == 1; }
"""


def _build(tmp_path, compiler: str, source: str, suffix: str) -> str:
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    src = tmp_path / f"prog.{suffix}"
    src.write_text(source)
    binary = str(tmp_path / "prog")
    # -no-pie: the process has exited when maps print, so frames resolve from the ELF symbols
    subprocess.run([compiler, "-g", "-O0", "-no-pie", "-fno-omit-frame-pointer", "-o", binary, str(src)], check=True)
    return binary


@pytest.fixture(scope="module")
def c_binary(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("stacks"), "gcc", C_SOURCE, "c")


def _kallsyms(name: str) -> int | None:
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            if parts[2] == name:
                return int(parts[0], 16)
    return None


def test_kstack_map_key_syscall_path():
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[kstack] = count(); }",
                    "-c", GETPPID_3)
    assert r.rc == 0, r
    assert r.out.startswith("\n\n@[\n") and r.out.endswith("]: 3\n"), r
    frames = r.out[len("\n\n@[\n"):-len("]: 3\n")].splitlines()
    assert frames and all(FRAME.match(f) for f in frames), r
    names = [f.split("+")[0].strip() for f in frames]
    assert "do_syscall_64" in names, r
    assert names[-1].startswith("entry_SYSCALL_64"), r


def test_kstack_modes_and_limit_in_printf_and_keys():
    prog = ("tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @p[kstack(perf, 2)] = count(); "
            "@r[kstack(raw, 2)] = count(); @l[kstack(1)] = count(); printf(\"[%s]\\n\", kstack(1)); }")
    r = run_pytrace("-e", prog, "-c", GETPPID_3)
    assert r.rc == 0, r
    m = re.fullmatch(r"(\[\n        (\S+)\n\]\n){3}\n\n"
                     r"@l\[\n        (\S+)\n\]: 3\n"
                     r"@p\[\n\t([0-9a-f]+) (\S+)\n\t([0-9a-f]+) (\S+)\n\]: 3\n"
                     r"@r\[\n([0-9a-f]+)\n([0-9a-f]+)\n\]: 3\n", r.out)
    assert m, r
    assert m.group(2) == m.group(3) == m.group(5), r  # the same innermost frame everywhere
    assert (m.group(4), m.group(6)) == (m.group(8), m.group(9)), r  # perf shows the raw addresses
    assert FRAME.match("        " + m.group(5)) and FRAME.match("        " + m.group(7)), r


def test_ksym_and_kaddr_match_kallsyms():
    name = "jiffies" if _kallsyms("jiffies") is not None else "do_syscall_64"
    prog = f'BEGIN {{ printf("%lx %s\\n", kaddr("{name}"), ksym(kaddr("{name}"))); exit(); }}'
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == f"{_kallsyms(name):x} {name}\n\n\n", r


def test_kaddr_unknown_symbol_is_a_diagnostic():
    r = run_pytrace("-e", 'BEGIN { @ = kaddr("no_such_symbol_pytrace"); }')
    assert r.rc != 0
    assert "ERROR: Failed to resolve kernel symbol: no_such_symbol_pytrace" in r.err, r
    assert "Traceback" not in r.err


def test_stack_argument_diagnostics():
    r = run_pytrace("-e", "BEGIN { @[kstack(fast)] = count(); @[ustack(5000)] = count(); }")
    assert r.rc != 0
    assert "ERROR: Error parsing stack mode" in r.err, r
    assert "ERROR: ustack([int limit]): limit shouldn't exceed 1024, 5000 given" in r.err, r


def test_ustack_uprobe_frames_in_order(c_binary):
    prog = (f"uprobe:{c_binary}:b {{ @[ustack] = count(); @p[ustack(perf, 3)] = count(); "
            f"@s[usym(reg(\"ip\"))] = count(); }}")
    r = run_pytrace("-e", prog, "-c", c_binary)
    assert r.rc == 0, r
    # show_debug_info (on by default): each frame of the -g binary with its source line
    src = re.escape(c_binary + ".c")
    m = re.match(fr"\n\n@\[\n        b\+0@{src}:4\n        a\+(\d+)@{src}:5\n        main\+(\d+)@{src}:6\n"
                 r"(        \S+\n)*\]: 3\n", r.out)
    assert m, r
    a_off, main_off = m.group(1), m.group(2)
    rest = r.out[m.end():]
    p = re.fullmatch(r"@p\[\n\t([0-9a-f]+) b\+0 \((\S+)\)\n\t[0-9a-f]+ a\+(\d+) \(\S+\)\n"
                     r"\t[0-9a-f]+ main\+(\d+) \(\S+\)\n\]: 3\n@s\[b\]: 3\n", rest)
    assert p, r
    assert p.group(2) == c_binary and (p.group(3), p.group(4)) == (a_off, main_off), r
    from pytrace.lang.symtab import elf_symbol
    assert int(p.group(1), 16) == elf_symbol(c_binary, "b")[0], r


def test_uaddr_reads_a_global(c_binary):
    prog = f'uretprobe:{c_binary}:a {{ @last = *uaddr("counter"); }} uprobe:{c_binary}:a {{ @n = count(); }}'
    r = run_pytrace("-e", prog, "-c", c_binary)
    assert r.rc == 0, r
    # counter is only written after the loop, so every read sees 0
    assert r.out == "\n\n@last: 0\n@n: 3\n", r


def test_uaddr_needs_a_user_probe():
    r = run_pytrace("-e", 'BEGIN { @ = uaddr("counter"); }')
    assert r.rc != 0
    assert "uaddr can only be used with uprobes" in r.err, r


def test_cxx_stack_is_demangled(tmp_path):
    binary = _build(tmp_path, "g++", CXX_SOURCE, "cc")
    r = run_pytrace("-e", "config = { show_debug_info = 0 } "
                    f"uprobe:{binary}:_ZNK6shapes6Circle4areaEi {{ @[ustack(3)] = count(); }}",
                    "-c", binary)
    assert r.rc == 0, r
    assert re.fullmatch(r"\n\n@\[\n        shapes::Circle::area\(int\) const\+0\n"
                        r"        measure\(shapes::Circle const&\)\+\d+\n        main\+\d+\n\]: 2\n", r.out), r


def test_ustack_build_id_mode(c_binary):
    from pytrace.lang.symtab import elf_symbol

    note = subprocess.run(["readelf", "-n", c_binary], capture_output=True, text=True).stdout
    build_id = re.search(r"Build ID: ([0-9a-f]+)", note).group(1)
    r = run_pytrace("-e", f"uprobe:{c_binary}:b {{ print(ustack(build_id, 2)); exit(); }}", "-c", c_binary)
    assert r.rc == 0, r
    lines = r.out.split("\n")
    # the offset is the file offset: a -no-pie binary's text is mapped from offset 0 at 0x400000
    assert lines[:2] == ["", f"{build_id} 0x{elf_symbol(c_binary, 'b')[0] - 0x400000:x}"], r
    assert re.fullmatch(f"{build_id} 0x[0-9a-f]+", lines[2]), r


INLINED_SOURCE = r"""#include <unistd.h>
__attribute__((noinline)) int leaf(int x) { return getppid() + x; }
static inline __attribute__((always_inline)) int inner(int x) {
  return leaf(x) * 3;
}
static inline __attribute__((always_inline)) int middle(int x) {
  return inner(x) * 2;
}
__attribute__((noinline)) int outer(int x) {
  return middle(x) + 1;
}
int main(void) { int s = 0; for (volatile int i = 0; i < 2; i++) s += outer(i); return s == 7; }
"""


def _addr2line(binary: str, addr: int) -> list[tuple[str, str]]:
    """binutils' (function, file:line) frames at an address, innermost first (the test's oracle)."""
    out = subprocess.run(["addr2line", "-f", "-i", "-e", binary, hex(addr)], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return [(out[i], out[i + 1].split(" ")[0]) for i in range(0, len(out) - 1, 2)]


def test_ustack_with_debug_info_shows_inlined_frames(tmp_path):
    if shutil.which("gcc") is None or shutil.which("addr2line") is None:
        pytest.skip("gcc or addr2line is not installed")
    src = tmp_path / "inl.c"
    src.write_text(INLINED_SOURCE)
    binary = str(tmp_path / "inl")
    subprocess.run(["gcc", "-g", "-O1", "-no-pie", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls",
                    "-o", binary, str(src)], check=True)
    prog = f"uprobe:{binary}:leaf {{ @[ustack(2)] = count(); @p[ustack(perf, 2)] = count(); }}"
    r = run_pytrace("-e", prog, "-c", binary)
    assert r.rc == 0, r
    p = re.search(r"@p\[\n\t([0-9a-f]+) leaf\+0 \(\S+\)\n((?:\t[0-9a-f]+ \w+ \(inlined\)\n)+)"
                  r"\t([0-9a-f]+) outer\+(\d+) \(\S+\)\n\]: 2\n$", r.out)
    assert p, r
    ret = int(p.group(3), 16)
    frames = _addr2line(binary, ret)  # the inlined functions at the return address in outer, then outer
    assert len(frames) >= 2 and frames[-1][0] == "outer", frames
    assert p.group(2) == "".join(f"\t{ret:x} {name} (inlined)\n" for name, _ in frames[:-1]), r
    expected = (f"\n\n@[\n        leaf+0@{src}:2\n"
                + "".join(f"        [inlined] {name}@{where}\n" for name, where in frames[:-1])
                + f"        outer+{p.group(4)}@{frames[-1][1]}\n]: 2\n")
    assert r.out.startswith(expected), r
    r = run_pytrace("-e", "config = { show_debug_info = false } " + prog, "-c", binary)
    assert r.out == (f"\n\n@[\n        leaf+0\n        outer+{p.group(4)}\n]: 2\n"
                     f"@p[\n\t{p.group(1)} leaf+0 ({binary})\n\t{ret:x} outer+{p.group(4)} ({binary})\n]: 2\n"), r
