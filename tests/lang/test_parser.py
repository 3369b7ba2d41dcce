"""The parser: program text -> lang.ast (grammar/pytrace.lark, lang/parser.py)."""

import subprocess
import sys

import pytest

from pytrace.lang import ast
from pytrace.lang.diagnostics import Diagnostics
from pytrace.lang.parser import decode_string, parse, parse_int
from pytrace.lang.source import Source
from pytrace.lang.visitor import flatten, walk


def parse_program(text: str) -> ast.Program:
    diags = Diagnostics()
    program = parse(Source("stdin", text), diags)
    assert program is not None, diags.render()
    assert diags.items == []
    return program


def parse_stmts(text: str) -> list:
    return parse_program("kprobe:f { " + text + " }").probes[0].block.stmts


def parse_stmt(text: str) -> ast.Stmt:
    (stmt,) = parse_stmts(text)
    return stmt


def parse_expr(text: str) -> ast.Expr:
    stmt = parse_stmt(text + ";")
    assert isinstance(stmt, ast.ExprStmt)
    return stmt.expr


def fe(text: str):
    return flatten(parse_expr(text))


def fs(text: str):
    return flatten(parse_stmt(text))


def I(n):  # noqa: E743
    return ["Integer", n]


def ID(name):
    return ["Identifier", name]


# ------------------------------------------------------------------ precedence


@pytest.mark.parametrize("low, high", [
    ("||", "&&"), ("&&", "|"), ("|", "^"), ("^", "&"), ("&", "=="), ("&", "!="),
    ("==", "<"), ("!=", ">="), ("<", "<<"), ("<=", ">>"), (">", "+"), (">=", "-"),
    ("<<", "+"), (">>", "-"), ("+", "*"), ("-", "/"), ("+", "%"),
])
def test_precedence(low, high):
    expected = ["Binop", low, ["Binop", high, ID("a"), ID("b")], ID("c")]
    assert fe(f"a {high} b {low} c") == expected
    expected = ["Binop", low, ID("a"), ["Binop", high, ID("b"), ID("c")]]
    assert fe(f"a {low} b {high} c") == expected


@pytest.mark.parametrize("op", ["||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=",
                                "<<", ">>", "+", "-", "*", "/", "%"])
def test_binary_operators_are_left_associative(op):
    assert fe(f"1 {op} 2 {op} 3") == ["Binop", op, ["Binop", op, I(1), I(2)], I(3)]


def test_arithmetic():
    assert fe("1 + 2 * 3") == ["Binop", "+", I(1), ["Binop", "*", I(2), I(3)]]
    assert fe("(1 + 2) * 3") == ["Binop", "*", ["Binop", "+", I(1), I(2)], I(3)]
    assert fe("1 - 2 - 3") == ["Binop", "-", ["Binop", "-", I(1), I(2)], I(3)]
    assert fe("1 - (2 - 3)") == ["Binop", "-", I(1), ["Binop", "-", I(2), I(3)]]


def test_ternary():
    assert fe("a ? b : c") == ["Ternary", ID("a"), ID("b"), ID("c")]
    assert fe("a ? b : c ? d : e") == ["Ternary", ID("a"), ID("b"), ["Ternary", ID("c"), ID("d"), ID("e")]]
    assert fe("a ? b ? c : d : e") == ["Ternary", ID("a"), ["Ternary", ID("b"), ID("c"), ID("d")], ID("e")]
    assert fe("a || b ? c + 1 : d") == [
        "Ternary", ["Binop", "||", ID("a"), ID("b")], ["Binop", "+", ID("c"), I(1)], ID("d")]
    assert fe("$x > 0 ? 1 : 2") == ["Ternary", ["Binop", ">", ["Variable", "$x"], I(0)], I(1), I(2)]


def test_unary_operators():
    assert fe("!a") == ["Unop", "!", ID("a")]
    assert fe("~a") == ["Unop", "~", ID("a")]
    assert fe("-a") == ["Unop", "-", ID("a")]
    assert fe("*a") == ["Unop", "*", ID("a")]
    assert fe("&$x") == ["Unop", "&", ["Variable", "$x"]]
    assert fe("&@m") == ["Unop", "&", ["Map", "@m"]]
    assert fe("!~-*a") == ["Unop", "!", ["Unop", "~", ["Unop", "-", ["Unop", "*", ID("a")]]]]
    assert fe("-1") == ["Unop", "-", I(1)]
    assert fe("-a * b") == ["Binop", "*", ["Unop", "-", ID("a")], ID("b")]
    assert fe("!a == b") == ["Binop", "==", ["Unop", "!", ID("a")], ID("b")]
    assert fe("*a->b") == ["Unop", "*", ["FieldAccess", ID("a"), "b", True]]
    assert fe("a - -b") == ["Binop", "-", ID("a"), ["Unop", "-", ID("b")]]


def test_increments():
    assert fs("@x++") == ["ExprStmt", ["Increment", ["Map", "@x"], "++", False]]
    assert fs("@x--") == ["ExprStmt", ["Increment", ["Map", "@x"], "--", False]]
    assert fs("++@x") == ["ExprStmt", ["Increment", ["Map", "@x"], "++", True]]
    assert fs("--$x") == ["ExprStmt", ["Increment", ["Variable", "$x"], "--", True]]
    assert fs("$x++") == ["ExprStmt", ["Increment", ["Variable", "$x"], "++", False]]
    assert fs("@m[1, 2]++") == ["ExprStmt", ["Increment", ["Map", "@m", [I(1), I(2)]], "++", False]]
    assert fs("++@[comm]") == ["ExprStmt", ["Increment", ["Map", "@", [ID("comm")]], "++", True]]
    assert fe("$x++ + ++$y") == [
        "Binop", "+", ["Increment", ["Variable", "$x"], "++", False], ["Increment", ["Variable", "$y"], "++", True]]


# ------------------------------------------------------------------ casts


def test_casts():
    assert fe("(uint32)x") == ["Cast", ["TypeName", "uint32", 0], ID("x")]
    assert fe("(int8)x") == ["Cast", ["TypeName", "int8", 0], ID("x")]
    assert fe("(bool)x") == ["Cast", ["TypeName", "bool", 0], ID("x")]
    assert fe("(int64)-1") == ["Cast", ["TypeName", "int64", 0], ["Unop", "-", I(1)]]
    assert fe("(struct task_struct *)curtask") == ["Cast", ["TypeName", "struct task_struct", 1], ID("curtask")]
    assert fe("(struct foo **)arg0") == ["Cast", ["TypeName", "struct foo", 2], ID("arg0")]
    assert fe("(union u)x") == ["Cast", ["TypeName", "union u", 0], ID("x")]
    assert fe("(enum e)x") == ["Cast", ["TypeName", "enum e", 0], ID("x")]
    assert fe("(uint8[4])x") == ["Cast", ["TypeName", "uint8[4]", 0], ID("x")]
    assert fe("(uint8 *)x") == ["Cast", ["TypeName", "uint8", 1], ID("x")]
    assert fe("(string)x") == ["Cast", ["TypeName", "string", 0], ID("x")]
    assert fe("(uint32)x + 1") == ["Binop", "+", ["Cast", ["TypeName", "uint32", 0], ID("x")], I(1)]
    assert fe("(uint64)(uint32)x") == [
        "Cast", ["TypeName", "uint64", 0], ["Cast", ["TypeName", "uint32", 0], ID("x")]]
    assert fe("(struct task_struct *)curtask->parent") == [
        "Cast", ["TypeName", "struct task_struct", 1], ["FieldAccess", ID("curtask"), "parent", True]]
    assert fe("((struct task_struct *)curtask)->parent") == [
        "FieldAccess", ["Cast", ["TypeName", "struct task_struct", 1], ID("curtask")], "parent", True]


def test_typedef_casts():
    assert fe("(pid_t)x") == ["Cast", ["TypeName", "pid_t", 0], ID("x")]
    assert fe("( pid_t )$x") == ["Cast", ["TypeName", "pid_t", 0], ["Variable", "$x"]]
    assert fe("(char *)&$d") == ["Cast", ["TypeName", "char", 1], ["Unop", "&", ["Variable", "$d"]]]
    assert fe("(foo_t **)-1") == ["Cast", ["TypeName", "foo_t", 2], ["Unop", "-", I(1)]]
    assert fe("(foo)!x") == ["Cast", ["TypeName", "foo", 0], ["Unop", "!", ID("x")]]
    assert fe("(foo)(bar)") == ["Cast", ["TypeName", "foo", 0], ID("bar")]
    assert fe("(foo)1") == ["Cast", ["TypeName", "foo", 0], I(1)]


def test_parenthesized_name_before_binary_operator_is_not_a_cast():
    assert fe("(a) - 1") == ["Binop", "-", ID("a"), I(1)]
    assert fe("(a)*b") == ["Binop", "*", ID("a"), ID("b")]
    assert fe("(a) & b") == ["Binop", "&", ID("a"), ID("b")]
    assert fe("(pid)") == ID("pid")
    assert fe("-(pid)") == ["Unop", "-", ID("pid")]
    assert fe("(a * b)") == ["Binop", "*", ID("a"), ID("b")]
    assert fe("(nsecs - @start) / 1000") == [
        "Binop", "/", ["Binop", "-", ID("nsecs"), ["Map", "@start"]], I(1000)]


# ---------------------------------------------------------------- postfix


def test_calls():
    assert fe("foo()") == ["Call", "foo"]
    assert fe("foo(1)") == ["Call", "foo", [I(1)]]
    assert fe('printf("%d %s\\n", pid, comm)') == ["Call", "printf", [["String", "%d %s\n"], ID("pid"), ID("comm")]]
    assert fe("count()") == ["Call", "count"]
    assert fe("hist(arg0)") == ["Call", "hist", [ID("arg0")]]
    assert fe("kstack(perf, 3)") == ["Call", "kstack", [ID("perf"), I(3)]]
    assert fe("str(args->filename)") == ["Call", "str", [["FieldAccess", ID("args"), "filename", True]]]
    assert fe("foo((a))") == ["Call", "foo", [ID("a")]]
    assert fe("foo((a, b))") == ["Call", "foo", [["Tuple", [ID("a"), ID("b")]]]]
    assert fe("foo(bar(1), baz())") == ["Call", "foo", [["Call", "bar", [I(1)]], ["Call", "baz"]]]


def test_call_statements():
    assert fs("exit()") == ["ExprStmt", ["Call", "exit"]]
    assert fs("print(@x)") == ["ExprStmt", ["Call", "print", [["Map", "@x"]]]]
    assert fs("clear(@x)") == ["ExprStmt", ["Call", "clear", [["Map", "@x"]]]]
    assert fs("delete(@m[k])") == ["ExprStmt", ["Call", "delete", [["Map", "@m", [ID("k")]]]]]
    assert fs("delete(@m, k)") == ["ExprStmt", ["Call", "delete", [["Map", "@m"], ID("k")]]]
    assert fs("zero(@)") == ["ExprStmt", ["Call", "zero", [["Map", "@"]]]]


def test_field_access():
    assert fe("args->filename") == ["FieldAccess", ID("args"), "filename", True]
    assert fe("args.filename") == ["FieldAccess", ID("args"), "filename", False]
    assert fe("curtask->mm->owner") == ["FieldAccess", ["FieldAccess", ID("curtask"), "mm", True], "owner", True]
    assert fe("$s.a.b") == ["FieldAccess", ["FieldAccess", ["Variable", "$s"], "a", False], "b", False]
    assert fe("@m[1].x") == ["FieldAccess", ["Map", "@m", [I(1)]], "x", False]


def test_index_and_tuple_index():
    assert fe("$a[1]") == ["Index", ["Variable", "$a"], I(1)]
    assert fe("args->buf[2][3]") == ["Index", ["Index", ["FieldAccess", ID("args"), "buf", True], I(2)], I(3)]
    assert fe("$t.0") == ["TupleIndex", ["Variable", "$t"], 0]
    assert fe("$t.1.0") == ["TupleIndex", ["TupleIndex", ["Variable", "$t"], 1], 0]
    assert fe("(1, 2).1") == ["TupleIndex", ["Tuple", [I(1), I(2)]], 1]
    assert fe("$a.b->c[1].0") == [
        "TupleIndex", ["Index", ["FieldAccess", ["FieldAccess", ["Variable", "$a"], "b", False], "c", True], I(1)], 0]


def test_maps():
    assert fe("@") == ["Map", "@"]
    assert fe("@x") == ["Map", "@x"]
    assert fe("@x[1]") == ["Map", "@x", [I(1)]]
    assert fe("@x[1, comm]") == ["Map", "@x", [I(1), ID("comm")]]
    assert fe("@[pid]") == ["Map", "@", [ID("pid")]]
    assert fe("@x[(1, 2)]") == ["Map", "@x", [["Tuple", [I(1), I(2)]]]]
    # `@m[` always starts the map's keys; a further `[` indexes the value.
    assert fe("@m[1][2]") == ["Index", ["Map", "@m", [I(1)]], I(2)]


def test_tuples():
    assert fe("(1, 2)") == ["Tuple", [I(1), I(2)]]
    assert fe('(a, "b")') == ["Tuple", [ID("a"), ["String", "b"]]]
    assert fe("(1,)") == ["Tuple", [I(1)]]
    assert fe("(1, 2,)") == ["Tuple", [I(1), I(2)]]
    assert fe("()") == ["Tuple"]
    assert fe("((1, 2), 3)") == ["Tuple", [["Tuple", [I(1), I(2)]], I(3)]]
    assert fe("(1)") == I(1)
    assert fe("((a))") == ID("a")


def test_sizeof_and_offsetof():
    assert fe("sizeof($x)") == ["Sizeof", ["Variable", "$x"]]
    assert fe("sizeof(x)") == ["Sizeof", ID("x")]
    assert fe("sizeof(1 + 2)") == ["Sizeof", ["Binop", "+", I(1), I(2)]]
    assert fe("sizeof(uint32)") == ["Sizeof", ["TypeName", "uint32", 0]]
    assert fe("sizeof(uint8[16])") == ["Sizeof", ["TypeName", "uint8[16]", 0]]
    assert fe("sizeof(struct task_struct)") == ["Sizeof", ["TypeName", "struct task_struct", 0]]
    assert fe("sizeof(struct task_struct *)") == ["Sizeof", ["TypeName", "struct task_struct", 1]]
    assert fe("sizeof(size_t *)") == ["Sizeof", ["TypeName", "size_t", 1]]
    assert fe("offsetof(struct Foo, x)") == ["Offsetof", ["TypeName", "struct Foo", 0], ["x"]]
    assert fe("offsetof(struct Foo, bar.x)") == ["Offsetof", ["TypeName", "struct Foo", 0], ["bar", "x"]]
    assert fe("offsetof(*curtask, comm)") == ["Offsetof", ["Unop", "*", ID("curtask")], ["comm"]]
    assert fe("offsetof($s, a)") == ["Offsetof", ["Variable", "$s"], ["a"]]


# --------------------------------------------------------------- literals


@pytest.mark.parametrize("raw, value", [
    ("0", 0), ("1", 1), ("123", 123), ("0x1F", 31), ("0XfF", 255), ("0x1_0", 16), ("0777", 511),
    ("00", 0), ("0b101", 5), ("1_000", 1000), ("1_000_000", 1000000), ("1e6", 1000000),
    ("5E2", 500), ("1e1_0", 10**10), ("10u", 10), ("10U", 10), ("10l", 10), ("10ul", 10),
    ("10LL", 10), ("10ull", 10), ("10ns", 10), ("2us", 2000), ("3ms", 3000000),
    ("1s", 10**9), ("2m", 120 * 10**9), ("1h", 3600 * 10**9), ("1d", 86400 * 10**9),
    ("18446744073709551615", 2**64 - 1), ("4294967295u", 2**32 - 1),
])
def test_integer_literals(raw, value):
    node = parse_expr(raw)
    assert isinstance(node, ast.Integer)
    assert (node.value, node.raw) == (value, raw)
    assert parse_int(raw) == (value, None)


@pytest.mark.parametrize("raw, error", [
    ("18446744073709551616", "overflow error, maximum value is 18446744073709551615: 18446744073709551616"),
    ("1e21", "overflow error, maximum value is 18446744073709551615: 1e21"),
    ("4294967296u", "overflow error, maximum value is 4294967295: 4294967296u"),
    ("15e2", "coefficient part of scientific literal must be 1-9: 15e2"),
    ("1ulll", "invalid integer suffix 'ulll'"),
    ("1lul", "invalid integer suffix 'lul'"),
    ("1abc", "invalid integer suffix 'abc'"),
    ("0x1fu", "invalid integer suffix 'u'"),
    ("1_", "trailing underscore in integer literal"),
    ("089", "invalid integer: 089"),
])
def test_integer_literal_errors(raw, error):
    assert parse_int(raw) == (0, error)


def test_booleans():
    assert fe("true") == ["Boolean", True]
    assert fe("false") == ["Boolean", False]
    assert fe("!true") == ["Unop", "!", ["Boolean", True]]
    assert fe("trueish") == ID("trueish")


@pytest.mark.parametrize("literal, value", [
    (r'""', ""),
    (r'"abc"', "abc"),
    (r'"a\nb"', "a\nb"),
    (r'"\t\r"', "\t\r"),
    (r'"\\"', "\\"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"\x41\x4a\x4"', "AJ\x04"),
    (r'"\101\60\0"', "A0\0"),
    (r'"\1234"', "S4"),
    (r'"\xff"', "\udcff"),  # bytes >= 0x80 stay single bytes (surrogate escapes)
    (r'"%s // not a comment /* either */"', "%s // not a comment /* either */"),
    (r'"été"', "été"),
])
def test_string_literals(literal, value):
    assert fe(literal) == ["String", value]


def test_string_escape_errors():
    assert decode_string(r"a\qb") == ("ab", [(1, 3, "invalid escape character '\\q'")])
    assert decode_string(r"\777") == ("", [(0, 4, "octal escape sequence out of range '\\777'")])
    assert decode_string(r"\xg") == ("g", [(0, 2, "invalid hex escape sequence")])


def test_identifiers_and_builtins():
    for name in ["pid", "comm", "args", "arg0", "arg12", "sarg1", "retval", "curtask", "nsecs", "kstack",
                 "cpu", "__builtin_pid", "BEGIN", "end", "struct_x"]:
        assert fe(name) == ID(name)


def test_variables_and_positional_params():
    assert fe("$x") == ["Variable", "$x"]
    assert fe("$_x1") == ["Variable", "$_x1"]
    assert fe("$1") == ["PositionalParam", 1]
    assert fe("$12") == ["PositionalParam", 12]
    assert fe("$#") == ["PositionalParam", 0]
    assert fe("$1 + $#") == ["Binop", "+", ["PositionalParam", 1], ["PositionalParam", 0]]


def test_keywords_are_names_where_keywords_cannot_be():
    assert fs("@config = 1") == ["Assign", ["Map", "@config"], I(1)]
    assert fs("@if[1] = 1") == ["Assign", ["Map", "@if", [I(1)]], I(1)]
    assert fs("$while = 1") == ["Assign", ["Variable", "$while"], I(1)]
    assert fe("args->config") == ["FieldAccess", ID("args"), "config", True]
    assert fe("args.if") == ["FieldAccess", ID("args"), "if", False]
    assert fe("$s.return.macro") == ["FieldAccess", ["FieldAccess", ["Variable", "$s"], "return", False], "macro", False]
    assert fe('signal("KILL")') == ["Call", "signal", [["String", "KILL"]]]
    assert fe("config") == ID("config")
    assert fe("macro") == ID("macro")
    assert fe("uint32x") == ID("uint32x")
    assert fe("offsetof(struct S, if.else)") == ["Offsetof", ["TypeName", "struct S", 0], ["if", "else"]]


# ------------------------------------------------------------- statements


def test_assignments():
    assert fs("@x = 1") == ["Assign", ["Map", "@x"], I(1)]
    assert fs("@x[1, 2] = 3") == ["Assign", ["Map", "@x", [I(1), I(2)]], I(3)]
    assert fs("@ = 1") == ["Assign", ["Map", "@"], I(1)]
    assert fs("@[comm] = count()") == ["Assign", ["Map", "@", [ID("comm")]], ["Call", "count"]]
    assert fs("$x = pid") == ["Assign", ["Variable", "$x"], ID("pid")]
    assert fs("$x = $y == 1") == ["Assign", ["Variable", "$x"], ["Binop", "==", ["Variable", "$y"], I(1)]]


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"])
def test_compound_assignments(op):
    assert fs(f"@x {op}= 2") == ["Assign", ["Map", "@x"], I(2), op]
    assert fs(f"$x {op}= y + 1") == ["Assign", ["Variable", "$x"], ["Binop", "+", ID("y"), I(1)], op]
    assert fs(f"@m[k] {op}= 1") == ["Assign", ["Map", "@m", [ID("k")]], I(1), op]


def test_variable_declarations():
    assert fs("let $x") == ["VarDecl", ["Variable", "$x"]]
    assert fs("let $x = 5") == ["VarDecl", ["Variable", "$x"], I(5)]
    assert fs("let $x: uint32 = 5") == ["VarDecl", ["Variable", "$x"], ["TypeName", "uint32", 0], I(5)]
    assert fs("let $x : string") == ["VarDecl", ["Variable", "$x"], ["TypeName", "string", 0]]
    assert fs("let $p: struct task_struct * = curtask") == [
        "VarDecl", ["Variable", "$p"], ["TypeName", "struct task_struct", 1], ID("curtask")]
    assert fs("let $b: uint8[8]") == ["VarDecl", ["Variable", "$b"], ["TypeName", "uint8[8]", 0]]
    assert fs("let $s: size_t = 1") == ["VarDecl", ["Variable", "$s"], ["TypeName", "size_t", 0], I(1)]


def test_if():
    assert fs("if (pid == 1) { @x = 1; }") == [
        "If", ["Binop", "==", ID("pid"), I(1)], ["Block", [["Assign", ["Map", "@x"], I(1)]]]]
    assert fs("if (a) { } else { exit() }") == ["If", ID("a"), ["Block"], ["Block", [["ExprStmt", ["Call", "exit"]]]]]
    assert fs("if (a) {} else if (b) {} else {}") == ["If", ID("a"), ["Block"], ["If", ID("b"), ["Block"], ["Block"]]]
    assert fs("if a > 1 { }") == ["If", ["Binop", ">", ID("a"), I(1)], ["Block"]]
    assert fs("if ($x) { if ($y) { } }") == ["If", ["Variable", "$x"], ["Block", [["If", ["Variable", "$y"], ["Block"]]]]]


def test_loops():
    assert fs("while ($i < 10) { $i++; }") == [
        "While", ["Binop", "<", ["Variable", "$i"], I(10)],
        ["Block", [["ExprStmt", ["Increment", ["Variable", "$i"], "++", False]]]]]
    assert fs("unroll(5) { @x++ }") == ["Unroll", I(5), ["Block", [["ExprStmt", ["Increment", ["Map", "@x"], "++", False]]]]]
    assert fs("unroll ($1) { }") == ["Unroll", ["PositionalParam", 1], ["Block"]]
    assert fs("for ($kv : @map) { print($kv.0); }") == [
        "For", ["Variable", "$kv"], ["Map", "@map"],
        ["Block", [["ExprStmt", ["Call", "print", [["TupleIndex", ["Variable", "$kv"], 0]]]]]]]
    assert fs("for ($i : 0..10) { }") == ["For", ["Variable", "$i"], ["Range", I(0), I(10)], ["Block"]]
    assert fs("for ($i : $a..$b + 1) { }") == [
        "For", ["Variable", "$i"], ["Range", ["Variable", "$a"], ["Binop", "+", ["Variable", "$b"], I(1)]], ["Block"]]
    assert fs("for $kv : @m { }") == ["For", ["Variable", "$kv"], ["Map", "@m"], ["Block"]]
    assert fs("for $i : 1..@n { }") == ["For", ["Variable", "$i"], ["Range", I(1), ["Map", "@n"]], ["Block"]]


def test_jumps():
    assert fs("return") == ["Jump", "return"]
    assert fs("return;") == ["Jump", "return"]
    assert fs("return 1 + 2") == ["Jump", "return", ["Binop", "+", I(1), I(2)]]
    assert fs("break;") == ["Jump", "break"]
    assert fs("continue") == ["Jump", "continue"]


def test_statement_lists():
    assert flatten(parse_stmts("")) == []
    assert flatten(parse_stmts(";;;")) == []
    assert flatten(parse_stmts("@x = 1; @y = 2")) == [["Assign", ["Map", "@x"], I(1)], ["Assign", ["Map", "@y"], I(2)]]
    assert flatten(parse_stmts("@x = 1; @y = 2;")) == [["Assign", ["Map", "@x"], I(1)], ["Assign", ["Map", "@y"], I(2)]]
    assert flatten(parse_stmts("{ @x = 1 } { } ; exit()")) == [
        ["Block", [["Assign", ["Map", "@x"], I(1)]]], ["Block"], ["ExprStmt", ["Call", "exit"]]]
    # Compound statements need no `;`.
    assert flatten(parse_stmts("if (a) { } while (b) { } unroll(2) { } for ($i : 0..1) { } @x = 1")) == [
        ["If", ID("a"), ["Block"]], ["While", ID("b"), ["Block"]], ["Unroll", I(2), ["Block"]],
        ["For", ["Variable", "$i"], ["Range", I(0), I(1)], ["Block"]], ["Assign", ["Map", "@x"], I(1)]]
    assert flatten(parse_stmts("if (a) { }; exit();")) == [["If", ID("a"), ["Block"]], ["ExprStmt", ["Call", "exit"]]]


# ----------------------------------------------------------------- probes


@pytest.mark.parametrize("raw", [
    "BEGIN", "END", "begin", "end",
    "tracepoint:syscalls:sys_enter_openat", "t:syscalls:sys_enter_*", "tracepoint:syscalls:*",
    "kprobe:do_sys_open", "k:vfs_*", "kprobe:mod:func", "kprobe:func+0x10", "kprobe:f*", "kretprobe:f",
    "uprobe:/bin/bash:readline", "u:/lib/x86_64-linux-gnu/libc.so.6:malloc", "uprobe:libc:malloc",
    "uprobe:/bin/x:0x1234", "uprobe:/bin/x:_ZN3foo3barEv", 'uprobe:/bin/x:"cpp::name(int)"',
    'uprobe:/bin/x:cpp:"ns::f(char const*, int)"', "uprobe:/path:*", "uretprobe:./a.out:main",
    "usdt:/path:provider:probe", "U:/path:probe", "interval:s:1", "i:ms:100", "profile:hz:99", "p:hz:99",
    "software:cpu-clock:1000", "s:faults:1", "hardware:cache-misses:1000000", "h:cycles:1e6",
    "watchpoint:0x10000:8:rw", "w:0x1234:4:w", "rawtracepoint:sched_switch", "rt:module:event",
    "fentry:vfs_read", "fexit:mod:func", "f:func", "fr:func", "kfunc:vfs_read", "kretfunc:vfs_read",
    "iter:task", "uprobe:$1:func", "tracepoint:sched:sched_switch",
])
def test_attach_points(raw):
    for program in (f"{raw} {{ exit(); }}", f"{raw}{{}}", f"{raw} /pid/ {{}}", f"{raw}, BEGIN < exit(); >",
                    f"{raw}\n// comment\n{{ }}", f"{raw} /* c */ {{ }}"):
        (probe,) = parse_program(program).probes
        assert probe.attach_points[0].raw == raw


def test_probes():
    program = parse_program("kprobe:f, kretprobe:g,\n  BEGIN /pid == 1/ { @x = 1 } END { exit(); }")
    assert flatten(program.probes) == [
        ["Probe", [["AttachPoint", "kprobe:f"], ["AttachPoint", "kretprobe:g"], ["AttachPoint", "BEGIN"]],
         ["Binop", "==", ID("pid"), I(1)], ["Block", [["Assign", ["Map", "@x"], I(1)]]]],
        ["Probe", [["AttachPoint", "END"]], ["Block", [["ExprStmt", ["Call", "exit"]]]]],
    ]
    assert flatten(parse_program("k:f,k:g{}").probes[0].attach_points) == [["AttachPoint", "k:f"], ["AttachPoint", "k:g"]]
    assert flatten(parse_program("k:f, {}").probes[0].attach_points) == [["AttachPoint", "k:f"]]


def test_predicates():
    def pred(text):
        return flatten(parse_program(text).probes[0].predicate)

    assert pred("k:f /pid/ {}") == ID("pid")
    assert pred("k:f /pid == 1/{}") == ["Binop", "==", ID("pid"), I(1)]
    assert pred("k:f /a / 2 > b/ { }") == ["Binop", ">", ["Binop", "/", ID("a"), I(2)], ID("b")]
    assert pred('k:f /comm == "bash" && $1 > 0/ { }') == [
        "Binop", "&&", ["Binop", "==", ID("comm"), ["String", "bash"]], ["Binop", ">", ["PositionalParam", 1], I(0)]]
    assert pred("k:f /pid/ // why\n { }") == ID("pid")
    assert pred("k:f /(uint32)arg0 < 10/ < exit(); >") == ["Binop", "<", ["Cast", ["TypeName", "uint32", 0], ID("arg0")], I(10)]
    assert parse_program("k:f { }").probes[0].predicate is None


def test_angle_bracket_blocks():
    def body(text):
        return flatten(parse_program(text).probes[0].block)

    assert body("kprobe:do_sys_open < @[comm] = count(); >") == [
        "Block", [["Assign", ["Map", "@", [ID("comm")]], ["Call", "count"]]]]
    assert body('BEGIN < printf("%d\\n", 1 > 0 ? 1 : 2); >') == [
        "Block", [["ExprStmt", ["Call", "printf", [["String", "%d\n"], ["Ternary", ["Binop", ">", I(1), I(0)], I(1), I(2)]]]]]]
    assert body("i:s:1 < if (pid > 1) { @x = 1; } exit(); >") == [
        "Block", [["If", ["Binop", ">", ID("pid"), I(1)], ["Block", [["Assign", ["Map", "@x"], I(1)]]]],
                  ["ExprStmt", ["Call", "exit"]]]]
    assert body("i:s:1 <>") == ["Block"]
    assert body("i:s:1 < ; >") == ["Block"]
    assert body("i:s:1 <@x = $a >> 2 > 1 ? 3 : 4;>") == [
        "Block", [["Assign", ["Map", "@x"], ["Ternary", ["Binop", ">", ["Binop", ">>", ["Variable", "$a"], I(2)], I(1)], I(3), I(4)]]]]
    assert body("i:s:1 < if (a) { } >") == ["Block", [["If", ID("a"), ["Block"]]]]
    assert body("i:s:1 < { @x = 1 } >") == ["Block", [["Block", [["Assign", ["Map", "@x"], I(1)]]]]]
    assert body("i:s:1 /pid > 1/ < @x = 1 < 2; >") == ["Block", [["Assign", ["Map", "@x"], ["Binop", "<", I(1), I(2)]]]]
    program = parse_program("k:f < @a = 1; > k:g { @b = 2 } k:h < @c = 3; >")
    assert [p.attach_points[0].raw for p in program.probes] == ["k:f", "k:g", "k:h"]


# -------------------------------------------------------------- top level


def test_empty_programs():
    assert flatten(parse_program("")) == ["Program"]
    assert flatten(parse_program("  \n// nothing\n/* at\n all */\n")) == ["Program"]


def test_shebang_and_comments():
    text = "#!/usr/bin/env bpftrace\n// a comment\n/* a\n block */ BEGIN { // trailing\n @x = 1; /* inline */ @y = 2 }\n"
    assert flatten(parse_program(text)) == ["Program", [
        ["Probe", [["AttachPoint", "BEGIN"]], ["Block", [["Assign", ["Map", "@x"], I(1)], ["Assign", ["Map", "@y"], I(2)]]]]]]
    assert flatten(parse_program("#!bpftrace")) == ["Program"]


def test_c_definitions():
    text = """#!/usr/bin/bpftrace
#include <linux/sched.h>
#include "net/sock.h"   
#define MAX 10
#define TWO_LINES(x) \\
    ((x) + 1)

struct sock_common {
  union {
    struct { __be32 skc_daddr; __be32 skc_rcv_saddr; };
  };
  /* a comment */ int x; // another
};
union U { int a; long b; }
enum E { A, B = 2 };
struct packed { char c; } __attribute__((packed, aligned(1)));
BEGIN { }
"""
    program = parse_program(text)
    assert [(c.kind, c.text) for c in program.c_definitions] == [
        ("include", "#include <linux/sched.h>"),
        ("include", '#include "net/sock.h"'),
        ("define", "#define MAX 10"),
        ("define", "#define TWO_LINES(x) \\\n    ((x) + 1)"),
        ("struct", "struct sock_common {\n  union {\n    struct { __be32 skc_daddr; __be32 skc_rcv_saddr; };\n"
                   "  };\n  /* a comment */ int x; // another\n};"),
        ("struct", "union U { int a; long b; }"),
        ("struct", "enum E { A, B = 2 };"),
        ("struct", "struct packed { char c; } __attribute__((packed, aligned(1)));"),
    ]
    assert [c.span.location() for c in program.c_definitions[:4]] == [
        "stdin:2:1-25", "stdin:3:1-22", "stdin:4:1-15", "stdin:5-6"]
    assert flatten(program.probes) == [["Probe", [["AttachPoint", "BEGIN"]], ["Block"]]]
    assert flatten(parse_program("struct Foo { int x; } begin { }").c_definitions) == [
        ["CDefinition", "struct", "struct Foo { int x; }"]]


def test_config():
    program = parse_program('config = { max_map_keys = 1024; stack_mode = perf; str = "x"; on = true; off = false }\nBEGIN {}')
    assert flatten(program.config) == ["Config", [
        ["ConfigAssign", "max_map_keys", I(1024)], ["ConfigAssign", "stack_mode", ID("perf")],
        ["ConfigAssign", "str", ["String", "x"]], ["ConfigAssign", "on", ["Boolean", True]],
        ["ConfigAssign", "off", ["Boolean", False]]]]
    assert flatten(parse_program("config = { a = 1; }").config) == ["Config", [["ConfigAssign", "a", I(1)]]]
    assert flatten(parse_program("config = {}").config) == ["Config"]
    assert flatten(parse_program("#include <a.h>\nconfig={BPFTRACE_MAX_PROBES=2}").config) == [
        "Config", [["ConfigAssign", "BPFTRACE_MAX_PROBES", I(2)]]]
    assert parse_program("BEGIN {}").config is None


@pytest.mark.parametrize("kind", ["hash", "lruhash", "percpuhash", "percpulruhash"])
def test_map_declarations(kind):
    program = parse_program(f"let @m = {kind}(100);\nBEGIN {{ @m[1] = 2 }}\nlet @ = {kind}(0x10);")
    assert flatten(program.map_decls) == [["MapDecl", "@m", kind, 100], ["MapDecl", "@", kind, 16]]


def test_macros():
    program = parse_program("macro inc($x, @m, y) { $x + 1 }\nBEGIN { }\nmacro none() { print(1); }")
    (m1, m2) = program.macros
    assert (m1.name, flatten(m1.params), flatten(m1.body)) == (
        "inc", [["Variable", "$x"], ["Map", "@m"], ID("y")], ["Block", [["ExprStmt", ["Binop", "+", ["Variable", "$x"], I(1)]]]])
    assert (m2.name, m2.params, flatten(m2.body)) == ("none", [], ["Block", [["ExprStmt", ["Call", "print", [I(1)]]]]])
    assert len(program.probes) == 1


def test_whole_program():
    text = """#!/usr/bin/env bpftrace
#include <linux/fs.h>
config = { stack_mode = perf }
let @start = hash(1024);
macro ms(x) { x / 1000000 }

tracepoint:syscalls:sys_enter_openat /comm != "bash"/ {
  @start[tid] = nsecs;
  @fname[tid] = args->filename;
}

tracepoint:syscalls:sys_exit_openat /@start[tid]/ {
  $dur = nsecs - @start[tid];
  @us = hist($dur / 1000);
  printf("%-6d %-16s %s\\n", pid, comm, str(@fname[tid]));
  delete(@start[tid]); delete(@fname[tid]);
}

END { clear(@start); }
"""
    program = parse_program(text)
    assert [len(program.c_definitions), len(program.map_decls), len(program.macros), len(program.probes)] == [1, 1, 1, 3]
    assert flatten(program.probes[1].block.stmts[0]) == [
        "Assign", ["Variable", "$dur"], ["Binop", "-", ID("nsecs"), ["Map", "@start", [ID("tid")]]]]


# ------------------------------------------------------------------ spans


def test_every_node_has_a_span():
    text = """#!/bin/bpftrace
#include <a.h>
struct S { int x; };
config = { a = 1; b = "s" }
let @m = hash(2);
macro f($x, @y, z) { $x + z }
k:f, k:g /pid > 1 && (uint8)arg0 != 0/ {
  @x[1, "a"] += (1, $t.0).1 ? sizeof(struct S *) : offsetof(struct S, x);
  let $v: uint32 = (pid_t)-(x) * *args->p[2];
  if (a) { @a++ } else if (b) { --$b } else { return }
  for ($i : 0..10) { break } for ($kv : @m) { continue }
  while (1) { unroll(2) { print((a)); } }
  $s = sizeof(x) + sizeof(y_t *) + (z_t *)0 + $1 + $# + true + "s";
}
BEGIN < exit(); >
"""
    program = parse_program(text)
    nodes = list(walk(program))
    assert len(nodes) > 100
    kinds = {type(n).__name__ for n in nodes}
    assert kinds >= {"Program", "Probe", "AttachPoint", "Block", "Config", "ConfigAssign", "MapDecl", "Macro",
                     "CDefinition", "TypeName", "Cast", "Sizeof", "Offsetof", "Tuple", "TupleIndex", "Index",
                     "FieldAccess", "Ternary", "Increment", "If", "For", "Range", "While", "Unroll", "Jump",
                     "VarDecl", "Assign", "ExprStmt", "PositionalParam", "Boolean", "String", "Integer",
                     "Identifier", "Variable", "Map", "Binop", "Unop", "Call"}
    for node in nodes:
        assert node.span is not None, node
        assert node.span.source.text is text
        assert 0 <= node.span.start < node.span.end <= len(text), node
    # Children lie within their parents.
    for node in nodes:
        for child in node.children():
            assert node.span.start <= child.span.start and child.span.end <= node.span.end, (node, child)


def test_span_locations():
    program = parse_program("kprobe:f { foo(); }")
    (probe,) = program.probes
    call = probe.block.stmts[0].expr
    assert call.span.location() == "stdin:1:12-17"
    assert call.span.text() == "foo()"
    assert probe.span.location() == "stdin:1:1-20"
    assert probe.attach_points[0].span.location() == "stdin:1:1-9"
    assert probe.block.span.text() == "{ foo(); }"
    assert probe.block.stmts[0].span.text() == "foo()"
    assert program.span.location() == "stdin:1:1-20"


def test_span_texts():
    def spans(text):
        program = parse_program(text)
        return [n.span.text() for n in walk(program.probes[0].block)][1:]

    assert spans("k:f { @x[1] = (1 + 2) * 3; }") == [
        "@x[1] = (1 + 2) * 3", "@x[1]", "1", "(1 + 2) * 3", "1 + 2", "1", "2", "3"]
    assert spans("k:f { $y = (struct foo *)$x->a; }") == [
        "$y = (struct foo *)$x->a", "$y", "(struct foo *)$x->a", "struct foo *", "$x->a", "$x"]
    assert spans("k:f { (pid_t)x; (a) - 1; ( foo_t ** )y }") == [
        "(pid_t)x", "(pid_t)x", "pid_t", "x", "(a) - 1", "(a) - 1", "a", "1",
        "( foo_t ** )y", "( foo_t ** )y", "foo_t **", "y"]
    assert spans('k:f { if (a) { $s = "x\\ty"; } else { @++ } }') == [
        'if (a) { $s = "x\\ty"; } else { @++ }', "a", '{ $s = "x\\ty"; }', '$s = "x\\ty"', "$s", '"x\\ty"',
        "{ @++ }", "@++", "@++", "@"]
    assert spans("k:f { let $x: uint8[4] = sizeof(a_t *); }") == [
        "let $x: uint8[4] = sizeof(a_t *)", "$x", "uint8[4]", "sizeof(a_t *)", "a_t *"]


def test_multiline_spans():
    text = "BEGIN\n{\n  @x = 1 +\n    2;\n}\n"
    program = parse_program(text)
    (probe,) = program.probes
    assert probe.span.location() == "stdin:1-5"
    assign = probe.block.stmts[0]
    assert assign.span.location() == "stdin:3-4"
    assert assign.value.right.span.location() == "stdin:4:5-6"
    assert program.span.location() == "stdin:1-6"


# ------------------------------------------------------------- robustness


def test_no_exceptions_on_any_prefix():
    text = (
        '#!/bin/bt\n#include <a.h>\nstruct S { int x; };\nconfig = { a = 1 }\nlet @m = hash(2);\n'
        'macro f($x) { $x }\nk:f, k:g /pid > 1/ { @x[1, "a\\n"] += (uint32)$t.0 ? 1e3 : 0x10; /* c */ }\n'
        'BEGIN < if (a) { $b = -1; } exit(); >\n')
    for end in range(len(text) + 1):
        diags = Diagnostics()
        program = parse(Source("stdin", text[:end]), diags)
        if program is None:
            assert len(diags.errors) >= 1
            diags.render()
        else:
            assert diags.items == []


def test_deep_nesting():
    depth = 400
    expr = parse_expr("(" * depth + "1" + ")" * depth)
    assert flatten(expr) == I(1)
    expr = parse_expr("- " * depth + "1")
    for _ in range(depth):
        expr = expr.operand
    assert flatten(expr) == I(1)


def test_import_is_light():
    code = ("import sys; from pytrace.lang.parser import parse; "
            "from pytrace.lang.source import Source; from pytrace.lang.diagnostics import Diagnostics; "
            "assert parse(Source('stdin', 'BEGIN { exit(); }'), Diagnostics()) is not None; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('llvmlite', 'regex')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


def test_the_parser_is_pickled_once_and_unpickled_after(tmp_path, monkeypatch):
    """A fresh cache builds the Lark object and pickles it; the next process (here: the
    module's global reset) unpickles it and parses the same; a damaged pickle is rebuilt."""
    from pytrace.lang import parser as parser_mod
    from pytrace.lang.diagnostics import Diagnostics
    from pytrace.lang.source import Source
    from pytrace.lang.visitor import flatten

    text = 'tracepoint:syscalls:sys_enter_getppid /pid > 1/ { @[comm, "x"] = count(); }'
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(parser_mod, "_lark", None)
    first = flatten(parser_mod.parse(Source("stdin", text), Diagnostics()))
    pickles = list((tmp_path / "pytrace").glob("grammar-*.pickle"))
    assert len(pickles) == 1
    monkeypatch.setattr(parser_mod, "_lark", None)
    lexers = parser_mod._parser().parser.lexer.lexers.values()
    assert all(lexer._scanner is not None for lexer in lexers)  # pickled compiled: no `re` work on a parse
    assert flatten(parser_mod.parse(Source("stdin", text), Diagnostics())) == first
    diags = Diagnostics()
    assert parser_mod.parse(Source("stdin", "BEGIN { @x = 1 }}"), diags) is None and diags.errors
    pickles[0].write_bytes(b"not a pickle")
    monkeypatch.setattr(parser_mod, "_lark", None)
    assert flatten(parser_mod.parse(Source("stdin", text), Diagnostics())) == first
    assert pickles[0].read_bytes() != b"not a pickle"


def test_compiled_patterns_pickle_as_the_same_pattern():
    """The lexer's scanners go into the pickle as `re`'s compiled code: rebuilt from it,
    a pattern is equal to re.compile's (same pattern, flags and code) and matches the same."""
    import re

    from pytrace.lang import parser as parser_mod

    for pattern, flags in [(r"(?P<A>\d+)|(?P<B>[a-z_]\w*)", 0), (r"(?i)x(?:y|z)*", 0), (rb"a.b", re.S)]:
        compiled = re.compile(pattern, flags)
        args = parser_mod._pattern_code(compiled)
        rebuilt = parser_mod._compiled_pattern(*args)
        assert rebuilt == compiled and rebuilt.groupindex == compiled.groupindex
        sample = "12 ab_c XYZ" if isinstance(pattern, str) else b"a\nb"
        assert [m.span() for m in rebuilt.finditer(sample)] == [m.span() for m in compiled.finditer(sample)]
