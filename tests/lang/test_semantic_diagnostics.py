"""Exact diagnostics of the semantic passes, rendered as bpftrace renders them."""

import pytest

from conftest import fixture_options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def errors(program: str, **options) -> str:
    with pytest.raises(CompileError) as exc:
        analyse(Source("stdin", program), fixture_options(**options))
    return exc.value.diagnostics.render()


def test_unknown_function():
    assert errors("BEGIN { foo(); }") == (
        "stdin:1:9-14: ERROR: Unknown function: 'foo'\n"
        "BEGIN { foo(); }\n"
        "        ~~~~~\n")


def test_unknown_builtin_with_hint():
    assert errors("BEGIN { @x = pidd; }") == (
        "stdin:1:14-18: ERROR: Unknown identifier: 'pidd'\n"
        "BEGIN { @x = pidd; }\n"
        "             ~~~~\n"
        "HINT: Did you mean pid?\n")


def test_unknown_probe_type():
    assert errors("kprobx:f { }") == (
        "stdin:1:1-9: ERROR: Invalid probe type: kprobx\n"
        "kprobx:f { }\n"
        "~~~~~~~~\n"
        "HINT: Did you mean kprobe?\n")


def test_unknown_tracepoint():
    assert errors("tracepoint:nosuch:event {}") == (
        "stdin:1:1-24: ERROR: No matches for tracepoint nosuch:event.\n"
        "tracepoint:nosuch:event {}\n"
        "~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_unknown_tracepoint_field():
    assert errors("tracepoint:syscalls:sys_enter_openat { @ = args->nosuch; }") == (
        "stdin:1:44-56: ERROR: Can't find a field nosuch\n"
        "tracepoint:syscalls:sys_enter_openat { @ = args->nosuch; }\n"
        "                                           ~~~~~~~~~~~~\n"
        "HINT: Fields: __syscall_nr, dfd, filename, flags, mode\n")


def test_wrong_argument_count():
    assert errors("BEGIN { printf(); }") == (
        "stdin:1:9-17: ERROR: printf() requires at least one argument (0 provided)\n"
        "BEGIN { printf(); }\n"
        "        ~~~~~~~~\n")
    assert errors("BEGIN { exit(1, 2); }").startswith(
        "stdin:1:9-19: ERROR: exit() takes up to one argument (2 provided)\n")


def test_wrong_argument_type():
    assert errors('BEGIN { @ = str(comm, "x"); }') == (
        "stdin:1:23-26: ERROR: str() only supports integer arguments (string provided)\n"
        'BEGIN { @ = str(comm, "x"); }\n'
        "                      ~~~\n")


def test_printf_argument_count_and_type():
    assert errors('BEGIN { printf("%s %d\\n", comm); }').startswith(
        "stdin:1:9-32: ERROR: printf: not enough arguments for format string (1 supplied, 2 expected)\n")
    assert errors('BEGIN { printf("%d\\n", comm); }').startswith(
        "stdin:1:9-29: ERROR: printf: unsupported format specifier for type 'string': d\n")


def test_map_with_two_value_types():
    assert errors('BEGIN { @x = 1; @x = "s"; }') == (
        "stdin:1:17-25: ERROR: Type mismatch for @x: trying to assign value of type 'string' "
        "when map already has a type 'int64'\n"
        'BEGIN { @x = 1; @x = "s"; }\n'
        "                ~~~~~~~~\n")


def test_aggregate_in_arithmetic():
    assert errors("BEGIN { @x = hist(1); @y = @x + 1; }") == (
        "stdin:1:28-34: ERROR: Type mismatch for '+': comparing hist_t with int8\n"
        "BEGIN { @x = hist(1); @y = @x + 1; }\n"
        "                           ~~~~~~\n"
        "stdin:1:28-30: ERROR: left (hist_t)\n"
        "BEGIN { @x = hist(1); @y = @x + 1; }\n"
        "                           ~~\n"
        "stdin:1:33-34: ERROR: right (int8)\n"
        "BEGIN { @x = hist(1); @y = @x + 1; }\n"
        "                                ~\n")


def test_aggregation_not_assigned():
    assert errors("BEGIN { count(); }") == (
        "stdin:1:9-16: ERROR: count() must be assigned directly to a map, e.g. @x = count()\n"
        "BEGIN { count(); }\n"
        "        ~~~~~~~\n")


def test_several_errors_all_reported_in_order():
    text = errors("BEGIN { foo(); bar(); }")
    assert text.count("ERROR:") == 2
    assert text.index("'foo'") < text.index("'bar'")


def test_pid_filter_adds_predicate():
    ctx = analyse(Source("stdin", "tracepoint:syscalls:sys_enter_getppid { @ = count(); } BEGIN { }"),
                  fixture_options(pid_filter=42))
    from pytrace.lang.visitor import flatten
    tp, begin = ctx.units
    assert flatten(tp.probe.predicate) == ["Binop", "==", ["Builtin", "pid"], ["Integer", 42]]
    assert begin.probe.predicate is None


def test_break_and_continue_outside_a_loop():
    assert errors("BEGIN { unroll(3) { break; } }") == (
        "stdin:1:21-26: ERROR: 'break' statement is not allowed in a probe\n"
        "BEGIN { unroll(3) { break; } }\n"
        "                    ~~~~~\n")
    assert errors("BEGIN { continue; }").startswith(
        "stdin:1:9-17: ERROR: 'continue' statement is not allowed in a probe\n")


def test_variable_read_after_its_block_is_hoisted_with_a_warning():
    """Older bpftrace scripts (0.17's tcpconnect.bt) assign in if/else and read after."""
    ctx = analyse(Source("stdin", "BEGIN { if (1) { $x = 5; } else { $x = 7; } @ = $x; }"), fixture_options())
    assert ctx.diags.render() == (
        "stdin:1:49-51: WARNING: $x is used outside the block that first assigns it: treating it as "
        "declared at the start of the probe, as older bpftrace did\n"
        "BEGIN { if (1) { $x = 5; } else { $x = 7; } @ = $x; }\n"
        "                                                ~~\n"
        "HINT: declare it before the block to keep it working: let $x;\n")
    assert errors("BEGIN { if (1) { $x = 5; } @ = $y; }").startswith(
        "stdin:1:32-34: ERROR: Undefined or undeclared variable: $y\n")


def test_untyped_let_takes_the_type_of_its_first_assignment():
    ctx = analyse(Source("stdin", 'BEGIN { let $s; if (1) { $s = "abc"; } @ = $s; }'), fixture_options())
    assert not ctx.diags.items
    assert str(ctx.units[0].variables["$s"]) == "string[4]"
