"""The DWARF reader (lang/dwarf.py) and what uprobes take from it: a small C
program (tests/fixtures/dwarf/dwarf_target.c) is compiled here with gcc in
the ways bpftrace's suite uses (DWARF 5 and 4, a separate debug file by
debuglink or in a --debuginfo dir, split DWARF in a .dwo or a .dwp), and
every build must give the same parameters, types and line addresses. No
kernel: the programs are compiled, never loaded."""

import os
import shutil
import subprocess

import pytest

from conftest import fixture_options
from pytrace.lang import dwarf, elf
from pytrace.lang import types as T
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.probes import lookup
from pytrace.lang.source import Source

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("objcopy") is None,
                                reason="needs gcc and objcopy")

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "dwarf",
                      "dwarf_target.c")
BODY_LINE = 31  # the line marked LINE_VISIT_BODY
VISIT_PARAMS = ["struct node* n", "counter_t times", "enum colour c", "const char* tag", "unsigned char small"]


def _gcc(out_dir, name: str, *flags: str) -> str:
    out = os.path.join(out_dir, name)
    subprocess.run(["gcc", "-O0", "-no-pie", *flags, "-o", name, SOURCE], cwd=out_dir, check=True)
    return out


def _objcopy(*args: str) -> None:
    subprocess.run(["objcopy", *args], check=True)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """name -> (binary, --debuginfo dirs) for each way of shipping DWARF."""
    root = tmp_path_factory.mktemp("dwarf")
    out = {}
    for name, flags in (("plain", ["-g"]), ("dwarf4", ["-gdwarf-4"])):
        d = root / name
        d.mkdir()
        out[name] = (_gcc(str(d), "target", *flags), ())
    # A debuglink to a copy in .debug/ beside the binary (found by the default search path).
    d = root / "debuglink"
    d.mkdir()
    binary = _gcc(str(d), "target", "-g")
    (d / ".debug").mkdir()
    _objcopy("--only-keep-debug", binary, str(d / ".debug" / "target.debug"))
    _objcopy("--strip-debug", f"--add-gnu-debuglink={d / '.debug' / 'target.debug'}", binary)
    out["debuglink"] = (binary, ())
    # No link: BASENAME.debug in a --debuginfo directory (relative to the binary's directory).
    d = root / "external"
    d.mkdir()
    binary = _gcc(str(d), "target", "-g")
    (d / "ext").mkdir()
    _objcopy("--only-keep-debug", binary, str(d / "ext" / "target.debug"))
    _objcopy("--strip-debug", binary)
    out["external"] = (binary, ("./elsewhere", "ext"))
    # Split DWARF: the .dwo beside the binary, or packed into BINARY.dwp (the .dwo removed).
    for name in ("dwo", "dwp"):
        d = root / name
        d.mkdir()
        binary = _gcc(str(d), "target", "-g", "-gsplit-dwarf")
        if name == "dwp":
            # binutils' dwp crashes on DWARF 5, and llvm-dwp 14 loops forever on some inputs.
            tool = shutil.which("llvm-dwp")
            try:
                subprocess.run([tool, "-e", binary, "-o", binary + ".dwp"], check=True, timeout=10, cwd=d)
            except (TypeError, subprocess.SubprocessError):
                continue
            for f in os.listdir(d):
                if f.endswith(".dwo"):
                    os.remove(d / f)
        out[name] = (binary, ())
    return out


def _info(builds, name: str) -> dwarf.DebugInfo:
    if name not in builds:
        pytest.skip(f"no {name} build here")
    binary, dirs = builds[name]
    info = dwarf.DebugInfo.for_binary(binary, dwarf.search_path(dirs))
    assert info is not None, name
    return info


KINDS = ["plain", "dwarf4", "debuglink", "external", "dwo", "dwp"]


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_as_bpftrace_lists_them(builds, kind):
    info = _info(builds, kind)
    assert info.param_listing("dw_visit") == VISIT_PARAMS
    assert info.param_listing("main") == ["int argc", "char** argv"]
    assert info.param_listing("dw_sum") == [f"long int {c}" for c in "abcdefg"]
    assert info.params("no_such_function") is None


@pytest.mark.parametrize("kind", KINDS)
def test_structs_and_their_members(builds, kind):
    info = _info(builds, kind)
    point = info.struct("struct point")
    assert point.size == 72
    fields = {f.name: (f.offset, f.type, f.bitfield) for f in point.all_fields()}
    assert fields == {
        "x": (0, T.S32, None), "y": (4, T.S16, None), "label": (6, T.StringType(8), None),
        "grid": (16, T.ArrayType(T.ArrayType(T.S64, 3), 2), None),
        "flag": (64, T.U32, (0, 1)), "level": (64, T.U32, (1, 3)),
    }
    node = info.struct("node")
    assert node.field_names() == ["next", "name", "where", "here", "u"]
    assert node.field("next").type == T.PointerType(node, "user")  # self-reference, converted lazily
    assert node.field("name").type == T.PointerType(T.S8, "user")  # const char *: qualifiers peeled
    assert node.field("here").type == point and node.field("here").offset == 24
    union = node.field("u").type
    assert union.name == "union <anonymous>" and union.field_names() == ["i", "c"]
    assert info.struct("struct nosuch") is None


@pytest.mark.parametrize("kind", KINDS)
def test_source_lines_map_to_the_same_place(builds, kind):
    info = _info(builds, kind)
    binary = builds[kind][0]
    start = elf.open_elf(binary).functions()["dw_visit"]
    body = info.line_address("dwarf_target.c", BODY_LINE)
    assert start < body < elf.open_elf(binary).functions()["dw_sum"]
    plain = _info(builds, "plain")
    plain_start = elf.open_elf(builds["plain"][0]).functions()["dw_visit"]
    assert body - start == plain.line_address("dwarf/dwarf_target.c", BODY_LINE) - plain_start
    assert info.line_address("dwarf_target.c", BODY_LINE - 1) == start  # the function's opening line


def test_line_errors_in_bpftrace_words(builds):
    info = _info(builds, "plain")
    with pytest.raises(dwarf.DwarfError, match="^No compilation unit matches other.c$"):
        info.line_address("other.c", 3)
    with pytest.raises(dwarf.DwarfError, match="^Unable to map 'dwarf_target.c:2' to address$"):
        info.line_address("dwarf_target.c", 2)
    with pytest.raises(dwarf.DwarfError, match="^Unable to map 'dwarf_target.c:31:999' to address$"):
        info.line_address("dwarf_target.c", BODY_LINE, 999)


def test_no_dwarf_is_none(builds, tmp_path):
    binary = _gcc(str(tmp_path), "bare")
    assert dwarf.DebugInfo.for_binary(binary) is None
    assert dwarf.DebugInfo.for_binary(str(tmp_path / "missing")) is None
    # A stripped binary whose debug file is in no directory searched.
    assert dwarf.DebugInfo.for_binary(builds["external"][0]) is None


def test_search_path_is_bpftrace_s():
    assert dwarf.search_path(("a", "/b")) == "a:/b::.debug:/usr/lib/debug"
    cands = dwarf.debug_file_candidates("dir/bin", "bin.debug", "abcdef", "rel::/abs")
    assert cands == ["dir/rel/bin.debug", "dir/bin.debug", "/abs/.build-id/ab/cdef.debug",
                     "/abs" + os.path.abspath("dir") + "/bin.debug", "/abs/bin.debug"]


def test_a_missing_dwo_warns_as_bpftrace(builds, tmp_path):
    binary = _gcc(str(tmp_path), "split", "-g", "-gsplit-dwarf")
    for f in os.listdir(tmp_path):
        if f.endswith(".dwo"):
            os.remove(tmp_path / f)
    info = dwarf.DebugInfo.for_binary(binary)
    assert info.params("dw_visit") is None  # the skeleton has no functions
    assert info.warnings == [f"Unable to find split debug file 'split-dwarf_target.dwo' or 'split.dwp' for "
                             f"'{binary}', debugging information may be incomplete!"]


# ---------------------------------------------------------------- uprobes

def _spec(binary: str, func: str, dirs=()):
    provider = lookup("uprobe")
    [spec] = provider.expand_with(None, [binary, func], f"uprobe:{binary}:{func}",
                                  fixture_options(debuginfo=tuple(dirs)))
    return provider, spec


@pytest.mark.parametrize("kind", KINDS)
def test_uprobe_args_record(builds, kind):
    if kind not in builds:
        pytest.skip(f"no {kind} build here")
    provider, spec = _spec(builds[kind][0], "dw_visit", builds[kind][1])
    args = provider.args_type(spec)
    assert [(f.name, f.offset, f.type) for f in args.all_fields()] == [
        ("n", 0, T.PointerType(_info(builds, kind).struct("struct node"), "user")), ("times", 8, T.U32),
        ("c", 16, T.U32), ("tag", 24, T.PointerType(T.S8, "user")), ("small", 32, T.U8)]
    assert args.ctx_offsets == {"n": 112, "times": 104, "c": 96, "tag": 88, "small": 72}  # di, si, dx, cx, r8
    assert provider.args_type(spec) is args  # one type for every use of `args`
    assert not spec.cacheable  # typed from a binary that may be rebuilt


def _compile(program: str, *dirs: str):
    return analyse(Source("stdin", program), fixture_options(debuginfo=tuple(dirs)))


def _errors(program: str, *dirs: str) -> str:
    with pytest.raises(CompileError) as exc:
        _compile(program, *dirs)
    return exc.value.diagnostics.render()


def test_programs_using_dwarf_types_compile(builds):
    binary = builds["plain"][0]
    _compile(f'uprobe:{binary}:dw_visit {{ printf("%d %s %s %d\\n", args.n->here.x, args.n->where->label, '
             f'str(args.tag), args.small); print(args.n->next->name); @[args] = count(); }}')
    _compile(f'uprobe:{binary}:dw_visit {{ print(((struct point *)arg0)->grid[1][2]); '
             f'let $ps: struct point *[2]; }}')
    _compile(f"uprobe:{builds['external'][0]}:dw_visit {{ print(args.small); }}", "ext")


def test_uprobe_dwarf_errors(builds, tmp_path):
    binary = builds["plain"][0]
    prog = f"uprobe:{binary}:dw_visit {{ print(args.nosuch); }}"
    assert _errors(prog).startswith(f"stdin:1:{len(binary) + 26}-{len(binary) + 37}: ERROR: Can't find a field "
                                    "nosuch\n")
    stripped = builds["external"][0]
    prog = f"uprobe:{stripped}:dw_visit {{ print(args.n); }}"
    assert f'ERROR: Could not parse arguments of "uprobe:{stripped}:dw_visit": no debuginfo found for ' \
           f'{stripped}\n' in _errors(prog)
    prog = f"uprobe:{binary}:dw_sum {{ print(args.a); }}"
    assert "'args' builtin is not supported for probes with stack-passed arguments." in _errors(prog)
    prog = f"uprobe:{binary}@dwarf_target.c:2 {{ exit(); }}"
    assert "ERROR: Unable to map 'dwarf_target.c:2' to address\n" in _errors(prog)
    prog = f"uprobe:{stripped}@dwarf_target.c:31 {{ exit(); }}"
    assert (f"ERROR: No DWARF debug info found for '{stripped}', cannot attach by source code location.\n"
            in _errors(prog))
    prog = f"uprobe:{binary}@dwarf_target.c:x {{ exit(); }}"
    assert "ERROR: Invalid line number: x\n" in _errors(prog)
    prog = f"uretprobe:{binary}@dwarf_target.c:31 {{ exit(); }}"
    assert "ERROR: Source code location not allowed\n" in _errors(prog)


def test_source_location_probe(builds):
    binary = builds["plain"][0]
    provider = lookup("uprobe")
    [spec] = provider.expand_with(None, [f"{binary}@dwarf_target.c", str(BODY_LINE)], "", fixture_options())
    info = _info(builds, "plain")
    assert spec.name == f"uprobe:{binary}@dwarf_target.c:{BODY_LINE}"
    assert spec.attach["address"] == info.line_address("dwarf_target.c", BODY_LINE)
    assert spec.attach["func"] == ""


def test_a_function_is_looked_up_in_its_own_unit_only(tmp_path):
    (tmp_path / "other.c").write_text("int other_unit(int z) { return z + 1; }\n")
    binary = str(tmp_path / "two_units")
    subprocess.run(["gcc", "-g", "-O0", "-o", binary, str(tmp_path / "other.c"), SOURCE], check=True)
    info = dwarf.DebugInfo.for_binary(binary)
    address = elf.open_elf(binary).functions()["dw_visit"]
    assert info.param_listing("dw_visit", address) == VISIT_PARAMS
    assert [u.names is not None for u in info.units()] == [False, True]  # other.c's unit was not read
    assert info.param_listing("other_unit") == ["int z"]  # without an address: every unit in turn
