"""Current bpftrace's value forms: block and if expressions, records, tuple
subscripts, `_ = expr;`, `a ?: b`, typeof (parsed and typed)."""

import pytest

from conftest import pass_errors, run_passes
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.visitor import flatten


def stmts(text: str, until: str = "parse") -> list:
    return run_passes(text, until).program.probes[0].block.stmts


def test_block_expression_value_is_its_last_expression_without_semicolon():
    [assign] = stmts("BEGIN { $x = { let $y = 2; $y + 1 }; }")
    assert flatten(assign.value) == ["BlockExpr", [["VarDecl", ["Variable", "$y"], ["Integer", 2]]],
                                     ["Binop", "+", ["Variable", "$y"], ["Integer", 1]]]
    [assign] = stmts("BEGIN { $x = { printf(\"hi\"); /* ; */ }; }")
    assert assign.value.value is None and len(assign.value.stmts) == 1


def test_statement_blocks_and_ifs_stay_statements():
    block, if_stmt, assign = stmts("BEGIN { { 1 } if (1) { 2 } else { 3 } $x = 1 }")
    assert isinstance(block, ast.Block) and isinstance(if_stmt, ast.If) and isinstance(if_stmt.otherwise, ast.Block)
    assert isinstance(assign, ast.Assign)


def test_if_expression_with_else_if_and_nested_ifs():
    [assign] = stmts("BEGIN { $x = if $a { 1 } else if $b { 2 } else { 3 }; }")
    assert flatten(assign.value) == ["IfExpr", ["Variable", "$a"], ["BlockExpr", ["Integer", 1]],
                                     ["IfExpr", ["Variable", "$b"], ["BlockExpr", ["Integer", 2]],
                                      ["BlockExpr", ["Integer", 3]]]]
    [assign] = stmts("BEGIN { $x = if (1) { if (2) { 3 } else { 4 } } else { 5 }; }")
    assert isinstance(assign.value.then.value, ast.IfExpr)


def test_if_expression_types_merge_and_mismatch():
    [assign] = stmts('BEGIN { $x = if (1) { "ab" } else { "abcd" }; }', "typecheck")
    assert assign.value.type == T.StringType(5)
    assert pass_errors('BEGIN { $x = if (1) { 1 } else { "a" }; }', "typecheck") == (
        "stdin:1:14-39: ERROR: Branches must return the same type or compatible types: have 'int64' and 'string'\n"
        'BEGIN { $x = if (1) { 1 } else { "a" }; }\n'
        "             ~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_records_are_named_tuples():
    [assign, _] = stmts('BEGIN { $r = (a = 1, b = "x"); print($r.b); }', "typecheck")
    assert assign.value.type == T.TupleType((T.S64, T.StringType(2)), ("a", "b"))
    assert assign.value.type.layout()["kind"] == "record"
    assert pass_errors("BEGIN { $r = (a = 1, a = 2); }", "parse") == (
        "stdin:1:22-27: ERROR: Named argument list already contains name: a\n"
        "BEGIN { $r = (a = 1, a = 2); }\n"
        "                     ~~~~~\n")
    assert pass_errors("BEGIN { $r = (a = 1); print($r.c); }", "typecheck") == (
        "stdin:1:29-33: ERROR: Record does not contain a field named 'c'\n"
        "BEGIN { $r = (a = 1); print($r.c); }\n"
        "                            ~~~~\n")


def test_records_in_another_order_keep_the_first_layout():
    run = run_passes('BEGIN { $a = (foo = 1, bar = "x"); $a = (bar = "yz", foo = 2); }', "typecheck")
    assert run.units[0].variables["$a"] == T.TupleType((T.S64, T.StringType(3)), ("foo", "bar"))
    assert "Type mismatch for $a" in pass_errors("BEGIN { $a = (foo = 1); $a = (bar = 2); }", "typecheck")


def test_tuple_subscript_needs_a_constant_index():
    [_, stmt] = stmts('BEGIN { $t = (1, "a", 3); print($t[3 - 2]); }', "typecheck")
    assert stmt.expr.args[0].tuple_element == 1 and stmt.expr.args[0].type == T.StringType(2)
    assert "Invalid tuple index: 3. Found 3 elements in tuple." in pass_errors(
        "BEGIN { $t = (1, 2, 3); print($t[3]); }", "typecheck")
    assert "needs an index known when compiling" in pass_errors(
        "BEGIN { $i = 0; $t = (1, 2); print($t[$i]); }", "typecheck")


def test_discard_and_elvis():
    [discard] = stmts("BEGIN { _ = 1 + 2; }")
    assert flatten(discard) == ["Discard", ["Binop", "+", ["Integer", 1], ["Integer", 2]]]
    [stmt] = stmts("BEGIN { print($a ?: 5); }")
    assert flatten(stmt.expr.args[0]) == ["Ternary", ["Variable", "$a"], ["Variable", "$a"], ["Integer", 5]]
    assert stmt.expr.args[0].cond is not stmt.expr.args[0].then  # a copy: each node has one parent
    [discard] = stmts("BEGIN { _ = $a == 1; }")
    assert flatten(discard) == ["Discard", ["Binop", "==", ["Variable", "$a"], ["Integer", 1]]]


def test_map_takes_an_aggregation_from_a_block():
    [block] = stmts("BEGIN { @ = { let $a = 100; avg($a) }; }")
    assert flatten(block) == ["Block", [["VarDecl", ["Variable", "$a"], ["Integer", 100]],
                                        ["Assign", ["Map", "@"], ["Call", "avg", [["Variable", "$a"]]]]]]


@pytest.mark.parametrize("text, size", [
    ("BEGIN { $a = (int8)1; @ = sizeof(typeof($a)); }", 1),
    ("BEGIN { @ = sizeof(typeof(uint16 *)); }", 8),
    ("BEGIN { let $p: typeof(size_t *); @ = sizeof($p); }", 8),
    ("macro m(t) { sizeof(t) + 0 } BEGIN { @ = m(typeof(uint32)); }", 4),
    ("macro m(a) { sizeof(a[3]) } BEGIN { @ = m(typeof(uint16)); }", 6),
    ("macro m(b) { sizeof(b*) } BEGIN { @ = m(typeof(uint16)); }", 8),
    ("BEGIN { @ = sizeof(pid_t *); }", 8),
])
def test_typeof(text, size):
    ctx = run_passes(text, "typecheck")
    sizes = [n.value for n in _walk(ctx.program.probes[0]) if isinstance(n, ast.Sizeof)]
    assert sizes == [size]


def test_typeof_in_a_cast_and_in_a_macro_pointer_cast():
    [_, assign] = stmts("BEGIN { $a = (int16)1; $b = (typeof($a))70000; }", "typecheck")
    assert assign.value.type == T.S16
    [assign] = stmts("macro cst(a) { (a*)0 } BEGIN { $p = cst(typeof(uint8)); }", "typecheck")
    assert assign.value.type == T.PointerType(T.U8)


def _walk(node):
    from pytrace.lang.visitor import walk

    return walk(node)
