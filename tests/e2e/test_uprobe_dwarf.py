"""End-to-end: uprobes typed from DWARF on tests/fixtures/dwarf/dwarf_target.c
(compiled here with gcc -g): `args.NAME` through pointers to structs,
`args` as a whole, casts to the binary's structs, `-lv`, a probe on a
source line, and DWARF in a separate file found through --debuginfo.
The program calls dw_visit(&head, i + 10, GREEN, "tag", 200) ROUNDS times,
with head.here.x = i. A string in .rodata is read from the second call on
(the first call is the first touch of its page, so the probe's read faults)."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import run_pytrace

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "dwarf",
                      "dwarf_target.c")
BODY_LINE = 31


def lines(out: str) -> list[str]:
    return [line for line in out.split("\n") if line]


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("dwarf") / "dwarf_target")
    subprocess.run(["gcc", "-g", "-O0", "-o", out, SOURCE], check=True)
    return out


@pytest.fixture(scope="module")
def stripped(tmp_path_factory):
    """The same program without DWARF; its debug file is in ext/ beside it."""
    d = tmp_path_factory.mktemp("stripped")
    out = str(d / "dwarf_target")
    subprocess.run(["gcc", "-g", "-O0", "-o", out, SOURCE], check=True)
    (d / "ext").mkdir()
    subprocess.run(["objcopy", "--only-keep-debug", out, str(d / "ext" / "dwarf_target.debug")], check=True)
    subprocess.run(["objcopy", "--strip-debug", out], check=True)
    return out


def test_args_by_name_through_structs(target):
    prog = (f'uprobe:{target}:dw_visit /args.times > 10/ {{ printf("%d %d %d %s %s %s %d\\n", args.n->here.x, '
            f'args.times, args.c, str(args.tag), args.n->where->label, str(args.n->next->name), args.small); }}')
    r = run_pytrace("-e", prog, "-c", f"{target} 3")
    assert r.rc == 0, r
    assert lines(r.out) == ["1 11 7 tag origin tail 200", "2 12 7 tag origin tail 200"], r


def test_arrays_bitfields_unions_and_casts(target):
    prog = (f"uprobe:{target}:dw_visit {{ print(args.n->here.grid); print(args.n->next->u.i); "
            f"print(((struct point *)arg0)->label); "
            f"printf(\"%d %d %d\\n\", args.n->here.flag, args.n->here.level, args.n->here.y); exit(); }}")
    r = run_pytrace("-e", prog, "-c", f"{target} 1")
    assert r.rc == 0, r
    # arg0 is a struct node *: its first bytes (the `next` pointer) read as a point's label
    out = r.out.splitlines()
    assert out[0] == "[[1,2,3],[4,5,6]]" and out[1] == "65" and out[3] == "1 5 -2", r


def test_args_as_a_value(target):
    prog = f"uprobe:{target}:dw_visit {{ @[args.times] = args; print(args); exit(); }}"
    r = run_pytrace("-e", prog, "-c", f"{target} 1")
    assert r.rc == 0, r
    printed, stored = lines(r.out)
    assert re.fullmatch(r"\{ \.n = 0x[0-9a-f]+, \.times = 10, \.c = 7, \.tag = 0x[0-9a-f]+, \.small = 200 \}", printed), r
    assert stored == "@[10]: " + printed, r


def test_args_in_a_variable_and_in_records(target):
    prog = (f"uprobe:{target}:dw_visit {{ $a = args; $r = (t=$a.times, both=(args, $a.small)); "
            f"print($a.c); print($r); exit(); }}")
    r = run_pytrace("-e", prog, "-c", f"{target} 1")
    assert r.rc == 0, r
    c, record = lines(r.out)
    assert c == "7", r
    assert re.fullmatch(r"\{ \.t = 10, \.both = \(\{ \.n = 0x[0-9a-f]+, \.times = 10, \.c = 7, "
                        r"\.tag = 0x[0-9a-f]+, \.small = 200 \}, 200\) \}", record), r


def test_list_parameters(target):
    r = run_pytrace("-lv", f"uprobe:{target}:dw_*")
    assert r.rc == 0, r
    assert r.out == (f"uprobe:{target}:dw_sum\n" + "".join(f"    long int {c}\n" for c in "abcdefg") +
                     f"uprobe:{target}:dw_visit\n    struct node* n\n    counter_t times\n    enum colour c\n"
                     "    const char* tag\n    unsigned char small\n"), r


def test_source_line_probe(target):
    prog = (f'uprobe:{target}@dwarf_target.c:{BODY_LINE} {{ @line = count(); @pc = reg("ip"); }} '
            f'uprobe:{target}:dw_visit {{ @entry = reg("ip"); }}')
    r = run_pytrace("-e", prog, "-c", f"{target} 4")
    assert r.rc == 0, r
    maps = dict(line.split(": ") for line in r.out.split("\n") if line.startswith("@"))
    assert maps["@line"] == "4", r
    assert 0 < int(maps["@pc"]) - int(maps["@entry"]) < 64, r  # past the prologue of the same function


def test_separate_debug_file_through_debuginfo(stripped):
    prog = f'uprobe:{stripped}:dw_visit /args.times > 10/ {{ printf("%s %d\\n", str(args.tag), args.times); }}'
    r = run_pytrace("-e", prog, "--debuginfo", "ext", "-c", f"{stripped} 3")
    assert r.rc == 0, r
    assert lines(r.out) == ["tag 11", "tag 12"], r
    r = run_pytrace("-lv", f"uprobe:{stripped}:main", "--debuginfo=./nowhere:ext")
    assert r.out == f"uprobe:{stripped}:main\n    int argc\n    char** argv\n", r
    r = run_pytrace("-e", prog, "-c", f"{stripped} 3")
    assert r.rc == 1 and f"no debuginfo found for {stripped}" in r.err, r
