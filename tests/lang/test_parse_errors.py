"""Syntax errors: exactly one diagnostic, rendered the way bpftrace renders it."""

import pytest

from pytrace.lang.diagnostics import Diagnostics
from pytrace.lang.parser import parse
from pytrace.lang.source import Source


def error(text: str, name: str = "stdin") -> str:
    diags = Diagnostics()
    assert parse(Source(name, text), diags) is None
    assert len(diags.items) == 1, diags.render()
    return diags.render()


def test_missing_semicolon():
    assert error("kprobe:f { @x = 1 @y = 2 }") == """\
stdin:1:19-21: ERROR: syntax error, unexpected map, expecting ; or }
kprobe:f { @x = 1 @y = 2 }
                  ~~
"""
    assert error('kprobe:f {\n  $x = 1\n  printf("%d", $x);\n}') == """\
stdin:3:3-9: ERROR: syntax error, unexpected identifier, expecting ; or }
  printf("%d", $x);
  ~~~~~~
"""
    assert error("i:s:1 < @x = 1 exit(); >") == """\
stdin:1:16-20: ERROR: syntax error, unexpected identifier, expecting ;
i:s:1 < @x = 1 exit(); >
               ~~~~
"""


def test_missing_semicolon_before_closing_angle_bracket():
    # The `>` is taken as a comparison, so the block is never closed.
    assert error("kprobe:f < @x = 1 >") == """\
stdin:1:10-11: ERROR: syntax error, unexpected end of file, unmatched '<'
kprobe:f < @x = 1 >
         ~
HINT: in a '< ... >' action block, each statement ends with ';', also the last
"""


def test_unterminated_string():
    assert error('kprobe:f { "asdf }') == """\
stdin:1:12-19: ERROR: unterminated string
kprobe:f { "asdf }
           ~~~~~~~
"""
    assert error('BEGIN {\n  printf("hello\n  );\n}\n') == """\
stdin:2:10-16: ERROR: unterminated string
  printf("hello
         ~~~~~~
"""
    assert error('BEGIN { "a\\"') == """\
stdin:1:9-13: ERROR: unterminated string
BEGIN { "a\\"
        ~~~~
"""


def test_unexpected_closing_brace():
    assert error("kprobe:f { @x = 1; } }") == """\
stdin:1:22-23: ERROR: syntax error, unexpected }, expecting end of file or macro or attach point or let
kprobe:f { @x = 1; } }
                     ~
"""
    assert error("kprobe:f { @x = (1 + 2}; }") == """\
stdin:1:23-24: ERROR: syntax error, unexpected }, expecting ) or ","
kprobe:f { @x = (1 + 2}; }
                      ~
"""


def test_garbage_characters():
    assert error("kprobe:f { @x = 1; ` }") == """\
stdin:1:20-21: ERROR: invalid character '`'
kprobe:f { @x = 1; ` }
                   ~
"""
    assert error("BEGIN { @x = 'a'; }") == """\
stdin:1:14-15: ERROR: invalid character '''
BEGIN { @x = 'a'; }
             ~
"""
    assert error("BEGIN { $ = 1; }") == """\
stdin:1:9-10: ERROR: invalid character '$'
BEGIN { $ = 1; }
        ~
"""
    assert error("BEGIN { @x = é; }") == """\
stdin:1:14-15: ERROR: invalid character 'é'
BEGIN { @x = é; }
             ~
"""


def test_missing_closing_brace_at_end_of_file():
    assert error("kprobe:f { @x = 1;") == """\
stdin:1:10-11: ERROR: syntax error, unexpected end of file, unmatched '{'
kprobe:f { @x = 1;
         ~
"""
    assert error("BEGIN {\n  if (1) {\n    exit();\n  }\n") == """\
stdin:1:7-8: ERROR: syntax error, unexpected end of file, unmatched '{'
BEGIN {
      ~
"""
    assert error("BEGIN { if (1) { exit(); }\nEND { }") == """\
stdin:2:1-4: ERROR: syntax error, unexpected attach point
END { }
~~~
HINT: missing '}'? The '{' at stdin:1:7-8 is still open
"""


def test_unmatched_parenthesis_and_bracket_at_end_of_file():
    assert error('BEGIN { printf("%d", (1 + 2)') == """\
stdin:1:15-16: ERROR: syntax error, unexpected end of file, unmatched '('
BEGIN { printf("%d", (1 + 2)
              ~
"""
    assert error("BEGIN { @x[1, 2") == """\
stdin:1:11-12: ERROR: syntax error, unexpected end of file, unmatched '['
BEGIN { @x[1, 2
          ~
"""


def test_incomplete_probe():
    assert error("kprobe:f") == """\
stdin:1:1-9: ERROR: syntax error, unexpected end of file, expecting { or / or <
kprobe:f
~~~~~~~~
"""
    assert error("i:s:1            $a") == """\
stdin:1:18-20: ERROR: syntax error, unexpected variable, expecting { or / or <
i:s:1            $a
                 ~~
"""


def test_unterminated_predicate():
    assert error("kprobe:f /pid == 1 { exit(); }") == """\
stdin:1:20-21: ERROR: syntax error, unexpected {, expecting /
kprobe:f /pid == 1 { exit(); }
                   ~
"""


def test_unterminated_comment():
    assert error("BEGIN { /* no end\n exit(); }") == """\
stdin:1:9-11: ERROR: end of file during comment
BEGIN { /* no end
        ~~
"""


def test_errors_bpftrace_reports_the_same_way():
    # These are bpftrace's own expectations (tests/parser.cpp).
    assert error("begin { for ($kv : @map) print($kv); }") == """\
stdin:1:26-31: ERROR: syntax error, unexpected identifier, expecting {
begin { for ($kv : @map) print($kv); }
                         ~~~~~
"""
    assert error("begin { for (@kv : @map) { } }") == """\
stdin:1:14-17: ERROR: syntax error, unexpected map, expecting variable
begin { for (@kv : @map) { } }
             ~~~
"""
    assert error("config = { BPFTRACE_STACK_MODE=perf BPFTRACE_MAX_PROBES=2 } i:s:1 { exit(); }") == """\
stdin:1:37-56: ERROR: syntax error, unexpected identifier, expecting ; or }
config = { BPFTRACE_STACK_MODE=perf BPFTRACE_MAX_PROBES=2 } i:s:1 { exit(); }
                                    ~~~~~~~~~~~~~~~~~~~
"""
    assert error("k:f { print((,)); }") == """\
stdin:1:14-15: ERROR: syntax error, unexpected ","
k:f { print((,)); }
             ~
"""
    assert error("i:s:1 { < }") == """\
stdin:1:9-10: ERROR: syntax error, unexpected <
i:s:1 { < }
        ~
"""
    assert error("config { BPFTRACE_STACK_MODE=perf } i:s:1 { exit(); }") == """\
stdin:1:8-9: ERROR: syntax error, unexpected {, expecting =
config { BPFTRACE_STACK_MODE=perf } i:s:1 { exit(); }
       ~
"""


def test_misplaced_top_level_items():
    assert error("BEGIN { } struct Foo { int x; }") == """\
stdin:1:11-17: ERROR: C definitions must appear before probes and functions
BEGIN { } struct Foo { int x; }
          ~~~~~~
"""
    assert error("BEGIN { }\n#include <linux/fs.h>\n") == """\
stdin:2:1-22: ERROR: C definitions must appear before probes and functions
#include <linux/fs.h>
~~~~~~~~~~~~~~~~~~~~~
"""
    assert error("i:s:1 { exit(); } config = { BPFTRACE_STACK_MODE=perf }") == """\
stdin:1:19-25: ERROR: config must appear before probes and functions
i:s:1 { exit(); } config = { BPFTRACE_STACK_MODE=perf }
                  ~~~~~~
"""
    assert error("config = { a = 1 }\nconfig = { b = 2 }") == """\
stdin:2:1-7: ERROR: duplicate config block
config = { b = 2 }
~~~~~~
"""
    assert error("let $x = hash(1);") == """\
stdin:1:5-7: ERROR: syntax error, unexpected variable, expecting map
let $x = hash(1);
    ~~
"""


def test_statement_errors():
    assert error("kprobe:f { 1 = 2; }") == """\
stdin:1:14-15: ERROR: syntax error, unexpected =, expecting ; or }
kprobe:f { 1 = 2; }
             ~
"""
    assert error("i:s:1 { @=++5}") == """\
stdin:1:13-14: ERROR: syntax error, unexpected integer, expecting map or variable
i:s:1 { @=++5}
            ~
"""
    assert error("k:f { if (a) { } else }") == """\
stdin:1:23-24: ERROR: syntax error, unexpected }, expecting { or if
k:f { if (a) { } else }
                      ~
"""
    assert error("kprobe:f { @x[1 = 2; }") == """\
stdin:1:17-18: ERROR: syntax error, unexpected =, expecting ]
kprobe:f { @x[1 = 2; }
                ~
"""


@pytest.mark.parametrize("literal, message, marker", [
    ("1e21", "overflow error, maximum value is 18446744073709551615: 1e21", "~~~~"),
    ("1ulll", "invalid integer suffix 'ulll'", "~~~~~"),
    ("0x10u", "invalid integer suffix 'u'", "~~~~~"),
    ("25e1", "coefficient part of scientific literal must be 1-9: 25e1", "~~~~"),
])
def test_integer_errors(literal, message, marker):
    text = f"k:f {{ print({literal}); }}"
    assert error(text) == f"stdin:1:13-{13 + len(literal)}: ERROR: {message}\n{text}\n            {marker}\n"


def test_string_escape_errors():
    assert error(r'k:f { printf("a\qb"); }') == """\
stdin:1:16-18: ERROR: invalid escape character '\\q'
k:f { printf("a\\qb"); }
               ~~
"""
    assert error(r'k:f { printf("\400"); }') == """\
stdin:1:15-19: ERROR: octal escape sequence out of range '\\400'
k:f { printf("\\400"); }
              ~~~~
"""


def test_positional_parameter_zero():
    assert error("BEGIN { print($0); }") == """\
stdin:1:15-17: ERROR: param $0 is out of integer range [1, 9223372036854775807]
BEGIN { print($0); }
              ~~
"""


def test_file_names_and_tabs():
    assert error("BEGIN {\n\t@x = 1\n\t@y = 2\n}\n", name="tool.bt") == """\
tool.bt:3:2-4: ERROR: syntax error, unexpected map, expecting ; or }
    @y = 2
    ~~
"""


def test_one_error_only():
    diags = Diagnostics()
    assert parse(Source("stdin", "k:f { @x = 1 @y = 2 @z = 3 } }} ` \"x"), diags) is None
    assert len(diags.items) == 1
