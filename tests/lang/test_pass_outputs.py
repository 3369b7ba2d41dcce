"""What the passes leave on the AST for codegen: declared annotation fields
(lang/ast.py `annotation`), and nothing else."""

from dataclasses import fields, is_dataclass

import pytest

from conftest import fixture_options
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.passes import PIPELINE, analyse
from pytrace.lang.source import Source
from pytrace.lang.visitor import flatten, walk


def typed(program: str, **options) -> ast.Program:
    ctx = analyse(Source("stdin", program), fixture_options(**options))
    assert ctx.program is not None
    return ctx.program


def nodes(program: ast.Program, cls: type) -> list:
    return [n for n in walk(program) if isinstance(n, cls)]


def call(program: ast.Program, name: str) -> ast.Call:
    (found,) = [c for c in nodes(program, ast.Call) if c.name == name]
    return found


def test_kaddr_address():
    # the fixture kernel's kallsyms (tests/fixtures/kernel/kallsyms)
    assert call(typed('BEGIN { @ = kaddr("jiffies"); }'), "kaddr").address == 0xFFFFFFFF82A0B1C0


def test_signal_number():
    program = typed('BEGIN { signal("SIGKILL"); signal("TERM"); }', unsafe=True)
    assert [c.signum for c in nodes(program, ast.Call)] == [9, 15]


def test_cgroupid_inode(tmp_path):
    import os

    program = typed(f'BEGIN {{ @ = cgroupid("{tmp_path}"); }}')
    assert call(program, "cgroupid").const_value == os.stat(tmp_path).st_ino


def test_has_key_lookup():
    program = typed("BEGIN { @m[1, 2] = 1; @h = has_key(@m, (1, 2)); }")
    lookup = call(program, "has_key").key_map
    assert flatten(lookup) == ["Map", "@m", [["Integer", 1], ["Integer", 2]]]
    assert lookup not in list(walk(program))  # an annotation, not part of the tree


def test_join_arg_type():
    program = typed("BEGIN { join((uint64 *)0); }", max_strlen=32)
    assert call(program, "join").arg_type == T.StringType(32)


def test_sizeof_and_offsetof_values():
    program = typed("struct Foo { int a; long b; } BEGIN { @s = sizeof(uint32); @o = offsetof(struct Foo, b); }")
    (size,) = nodes(program, ast.Sizeof)
    (offset,) = nodes(program, ast.Offsetof)
    assert (size.value, offset.value) == (4, 8)


def test_variable_keys():
    program = typed("BEGIN { if (1) { $x = 1; $x++; } else { $x = 2; } $y = 3; }")
    assert [v.key for v in nodes(program, ast.Variable)] == ["$x", "$x", "$x#2", "$y"]


def test_printf_format():
    program = typed('BEGIN { printf("%d %s\\n", 1, "a"); }')
    info = call(program, "printf").format
    assert (info.kind, info.fmt, len(info.arg_types)) == ("printf", "%d %s\n", 2)


def test_annotations_name_a_pass_and_stay_out_of_the_tree():
    passes = {name for name, _ in PIPELINE}
    for cls in vars(ast).values():
        if isinstance(cls, type) and issubclass(cls, ast.Node) and is_dataclass(cls):
            for f in fields(cls):
                if ast.is_annotation(f):
                    assert f.metadata["set_by"] in passes, (cls.__name__, f.name)
                    assert f.kw_only and not f.compare and not f.repr and f.default is None, (cls.__name__, f.name)
    program = typed("BEGIN { $x = sizeof(uint8); }")
    assert flatten(program.probes[0].block) == [
        "Block", [["Assign", ["Variable", "$x"], ["Sizeof", ["TypeName", "uint8", 0]]]]]


PROGRAMS = [
    'BEGIN { printf("%d %s\\n", pid, comm); @c[tid] = count(); @s = sum(1); @h = hist(2); }',
    "BEGIN { @m[1, 2] = 1; if (has_key(@m, (1, 2))) { delete(@m, (1, 2)); } print(len(@m)); }",
    'BEGIN { $t = (1, "a"); $u = $t.1; @x = sizeof($t); signal("SIGKILL"); exit(); }',
    "struct Foo { int a; long b; } BEGIN { @o = offsetof(struct Foo, b); $p = (struct Foo *)0; }",
    "macro add($a, b) { $a + b } BEGIN { $v = 1; @r = add($v, 2); for ($i : 0..3) { @r += $i; } }",
    "BEGIN { let $x; if (1) { $x = 1; } else { $y = 2; } while ($x < 3) { $x++; } unroll(2) { $x--; } }",
    'BEGIN { join((uint64 *)0, ","); @k = kaddr("jiffies"); @g = cgroupid("/"); @t = $1 + 1; }',
    "interval:s:1 { @[1] = 2; for ($kv : @) { print($kv.0); } }",
]


@pytest.mark.parametrize("program", PROGRAMS)
def test_passes_set_only_declared_fields(program):
    """Dataclasses without slots keep declared fields in __dict__: any other
    key there is an attribute some pass set without declaring it."""
    root = typed(program, unsafe=True, params=["5"])
    seen: set[int] = set()
    stack: list[ast.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        declared = {f.name for f in fields(node)}
        assert set(vars(node)) <= declared, (type(node).__name__, set(vars(node)) - declared)
        for value in vars(node).values():  # annotations too: has_key's key_map is a Map
            stack.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, ast.Node))
    assert len(seen) > 5
