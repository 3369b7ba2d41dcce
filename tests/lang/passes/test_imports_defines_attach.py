"""`import "file"`, `#define NAME <expression>`, positional parameters in
attach points and the interval/profile rate spellings."""

import os

import pytest

from conftest import pass_errors, run_passes
from pytrace.lang import ast
from pytrace.lang.probes.attach_params import expand_params
from pytrace.lang.probes.base import ProbeError
from pytrace.lang.visitor import flatten


def value_of(text: str, until: str = "c_macros"):
    return run_passes(text, until).program.probes[0].block.stmts[0].value


def test_define_string_and_expression_values():
    text = '#define RED "\\033[31m"\n#define TWO (1 + 1)\nBEGIN { @a = RED; @b = TWO * 3; }'
    a, b = run_passes(text, "c_macros").program.probes[0].block.stmts
    assert flatten(a.value) == ["String", "\x1b[31m"]
    assert flatten(b.value) == ["Binop", "*", ["Binop", "+", ["Integer", 1], ["Integer", 1]], ["Integer", 3]]
    assert b.value.left.span.location() == "stdin:3:24-27"  # reported where the name was used


def test_define_recursion_and_non_expressions():
    assert pass_errors("#define A B\n#define B A\nBEGIN { @ = A; }", "c_macros") == (
        "stdin:3:13-14: ERROR: Macro recursion: A->B\n"
        "BEGIN { @ = A; }\n"
        "            ~\n")
    assert "unable to expand macro as an expression: 1 +" in pass_errors(
        "#define BAD 1 +\nBEGIN { @ = BAD; }", "c_macros")


def test_expand_params():
    assert expand_params("interval:s:$1", ["2"]) == "interval:s:2"
    assert expand_params("BEG$1", ["IN"]) == "BEGIN"
    assert expand_params('uprobe:"$1":f', ["x"]) == 'uprobe:"$1":f'  # quoted: kept
    assert expand_params("i:s:$3", []) == "i:s:"
    with pytest.raises(ProbeError, match=r'invalid trailing character for positional param: 0\. Try quoting'):
        expand_params("i:s:$0", ["1"])


def test_positional_parameters_in_attach_points():
    ctx = run_passes("$1 { } i:ms:$2 { } BEG$3 { }", "bind_probes", params=["i:s:1", "5", "IN"])
    assert [s.name for u in ctx.units for s in u.specs] == ["interval:s:1", "interval:ms:5", "begin"]


@pytest.mark.parametrize("ap, name", [
    ("i:500ms", "interval:us:500000"), ("interval:1000000", "interval:us:1000"), ("i:s:1", "interval:s:1"),
    ("p:hz:99", "profile:hz:99"), ("profile:1us", "profile:us:1"), ("interval:hz:2", "interval:hz:2"),
])
def test_rate_spellings(ap, name):
    ctx = run_passes(ap + " { }", "bind_probes")
    assert ctx.units[0].specs[0].name == name


@pytest.mark.parametrize("ap, message", [
    ("p:99", "Invalid rate of profile probe. Minimum is 1000 or 1us. Found: 99 nanoseconds"),
    ("i:x:1", "x is not an accepted unit of time"),
    ("i:s:0", "interval frequency should be a positive integer"),
    ("i:s:1:2", "interval probe type requires 1 or 2 arguments, found 3"),
])
def test_rate_errors(ap, message):
    assert f"ERROR: {message}\n" in pass_errors(ap + " { }", "bind_probes")


def test_begin_and_end_in_one_probe_are_two_programs():
    from pytrace.lang.probes import lookup

    assert lookup("BEGIN").program_per_attach_point and lookup("end").program_per_attach_point


@pytest.fixture
def scripts(tmp_path):
    os.chmod(tmp_path, 0o755)
    (tmp_path / "lib").mkdir(mode=0o755)
    (tmp_path / "helpers.bt").write_text('macro greet() { printf("hello\\n"); }\n')
    (tmp_path / "lib" / "a.bt").write_text('import "../helpers.bt";\nmacro two() { 2 }\nlet @m = hash(4);\n')
    (tmp_path / "lib" / "notes.txt").write_text("not a script")
    (tmp_path / "conf.bt").write_text("config = { max_strlen = 8 }\n")
    return tmp_path


def test_import_merges_scripts_once(scripts):
    from pytrace.lang.passes import analyse
    from pytrace.lang.source import Source
    from conftest import fixture_options

    main = scripts / "main.bt"
    main.write_text('import "helpers.bt";\nimport "lib";\nimport "lib";\nBEGIN { greet(); @m[1] = two(); }\n')
    ctx = analyse(Source(str(main), main.read_text()), fixture_options(), until="imports")
    assert [m.name for m in ctx.program.macros] == ["greet", "two"]
    assert [d.name for d in ctx.program.map_decls] == ["@m"]


def test_import_search_path_and_errors(scripts, monkeypatch):
    monkeypatch.chdir(scripts)  # a -e program imports from the current directory, then the import paths
    (scripts / "more").mkdir(mode=0o755)
    (scripts / "more" / "nested.bt").write_text("macro three() { 3 }\n")
    (scripts / "x.h").write_text("struct S { int a; };\n")
    ctx = run_passes('import "nested.bt"; import "helpers.bt"; BEGIN { }', "imports",
                     import_paths=[str(scripts / "more")])
    assert [m.name for m in ctx.program.macros] == ["three", "greet"]
    assert pass_errors('import "nested.bt"; BEGIN { }', "imports", import_paths=["/nowhere"]) == (
        "stdin:1:1-19: ERROR: Unable to find suitable path for import\n"
        'import "nested.bt"; BEGIN { }\n'
        "~~~~~~~~~~~~~~~~~~\n"
        "HINT: checked: nested.bt,/nowhere/nested.bt\n")
    assert "invalid `config` within import" in pass_errors('import "conf.bt"; BEGIN { }', "imports")
    assert "unknown import type: \"notes.txt\"" in pass_errors('import "lib/notes.txt"; BEGIN { }', "imports")
    assert "importing C files is not supported" in pass_errors('import "x.h"; BEGIN { }', "imports")
    os.chmod(scripts / "lib", 0o777)
    assert "cowardly refusing to import from a directory with global write permissions" in pass_errors(
        'import "lib/a.bt"; BEGIN { }', "imports")


def test_stdlib_c_functions_come_with_their_import():
    for name in ("stdlib/test", "stdlib/test/test.bpf.c"):
        ctx = run_passes(f'import "{name}"; BEGIN {{ $x = __always_true(); }}', "typecheck")
        assert ctx.stdlib_imports == {"stdlib/test/test.bpf.c"}
    assert "ERROR: Unknown function: '__always_true'" in pass_errors("BEGIN { $x = __always_true(); }", "resolve")
