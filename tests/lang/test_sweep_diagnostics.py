"""Diagnostics matched to bpftrace's texts: len(), ..."""

import pytest

from conftest import fixture_options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def errors(program: str, **options) -> str:
    with pytest.raises(CompileError) as exc:
        analyse(Source("stdin", program), fixture_options(**options))
    return exc.value.diagnostics.render()


def test_len_of_a_map_without_keys():
    assert errors("BEGIN { @ = 0; print(len(@)); }") == (
        "stdin:1:22-28: ERROR: call to len() expects a map with explicit keys (non-scalar map)\n"
        "BEGIN { @ = 0; print(len(@)); }\n"
        "                     ~~~~~~\n")


def test_len_of_neither_map_nor_stack():
    assert errors("BEGIN { $x = 1; print(len($x)); }") == (
        "stdin:1:23-30: ERROR: call to len() expects a map, ustack, or kstack\n"
        "BEGIN { $x = 1; print(len($x)); }\n"
        "                      ~~~~~~~\n")


def test_len_of_a_stack_and_of_a_keyed_map():
    analyse(Source("stdin", "BEGIN { @m[1] = 1; $s = kstack(3); print((len(@m), len($s), len(ustack))); }"),
            fixture_options())


def test_license_must_be_gpl_compatible():
    assert errors('config = { license = "Potato" } BEGIN { }') == (
        "stdin:1:22-30: ERROR: Invalid value for license. Found: Potato. Valid values: Dual MIT/GPL, "
        "Dual BSD/GPL, Dual MPL/GPL, GPL and additional rights, GPL v2, GPL. Read more about BPF programs "
        "and licensing: https://docs.kernel.org/bpf/bpf_licensing.html#using-bpf-programs-in-the-linux-kernel\n"
        'config = { license = "Potato" } BEGIN { }\n'
        "                     ~~~~~~~~\n")
    analyse(Source("stdin", 'config = { license = "Dual BSD/GPL" } BEGIN { }'), fixture_options())


def warnings(program: str) -> str:
    return analyse(Source("stdin", program), fixture_options()).diags.render()


def test_unroll_bounds_each_have_their_message():
    assert "ERROR: unroll minimum value is 1\n" in errors("BEGIN { unroll (0) { } }")
    assert "ERROR: unroll maximum value is 100\n" in errors("BEGIN { unroll (101) { } }")


def test_unreachable_statement_after_exit_and_jumps():
    assert warnings("BEGIN { @x = 1; exit(); @x = 2; @x = 3; }") == (
        "stdin:1:25-31: WARNING: Unreachable statement.\n"
        "BEGIN { @x = 1; exit(); @x = 2; @x = 3; }\n"
        "                        ~~~~~~\n")
    assert "Unreachable" in warnings("BEGIN { if (1) { return; } else { exit(); } @x = 1; }")
    assert "Unreachable" in warnings("BEGIN { while (1) { break; @x = 1; } }")
    assert warnings("BEGIN { while (1) { break; } if (1) { exit(); } @x = 1; }") == ""


def test_include_option_adds_a_headers_constants():
    from pytrace.lang import ast

    ctx = analyse(Source("stdin", "BEGIN { @x = EPERM; }"), fixture_options(include_files=("errno.h",)))
    value = ctx.program.probes[0].block.stmts[0].value
    assert isinstance(value, ast.Integer) and value.value == 1
    assert errors("BEGIN { }", include_files=("no_such_header.h",)) == (
        "ERROR: fatal error: 'no_such_header.h' file not found\n")


def test_raw_tracepoints_are_not_the_syscalls_events():
    from pytrace.lang.probes.rawtracepoint import raw_events

    assert raw_events([("raw_syscalls", "sys_enter"), ("syscalls", "sys_enter_read"),
                       ("sched", "sched_switch")]) == {"sys_enter", "sched_switch"}


def test_syscall_numbers_from_syscall_h():
    from pytrace.lang import include_consts

    constants, missing = include_consts.script_constants(["#include <syscall.h>"], True)
    assert constants["__NR_nanosleep"] == 35 and not missing
    assert "__GNUC__" not in constants


def test_curtask_points_to_the_scripts_own_task_struct():
    from pytrace.lang import types as T

    ctx = analyse(Source("stdin", "struct task_struct { int x; } BEGIN { @ = curtask.x; }"), fixture_options())
    assert ctx.maps["@"].value_type == T.S32 or ctx.maps["@"].value_type == T.S64
    assert "does not contain a field named 'x'" in errors("BEGIN { @ = curtask.x; }")


def test_a_redefined_kernel_struct_leaves_kernel_structs_incomplete():
    # As in bpftrace: once a script redefines a kernel type, clang gets no BTF types.
    program = "struct task_struct { struct sched_entity se; }\nBEGIN { @ = curtask.se; }"
    assert errors(program) == "definitions.h:2:42: error: field has incomplete type 'struct sched_entity'\n"
    for fine in ("struct task_struct { struct sched_entity *se; } BEGIN { @ = curtask.se; }",
                 "struct foo { struct sched_entity se; } BEGIN { @ = ((struct foo *)0)->se.vruntime; }"):
        analyse(Source("stdin", fine), fixture_options())


def test_structs_follow_the_scripts_if_lines():
    # With BTF (the fixture kernel has it), a struct under `#ifndef BPFTRACE_HAVE_BTF` is not defined.
    program = ("#ifndef BPFTRACE_HAVE_BTF\nstruct task_struct { struct sched_entity se; };\n#endif\n"
               "#ifdef BPFTRACE_HAVE_BTF\nstruct mine { int a; };\n#endif\n"
               "BEGIN { @ = sizeof(struct mine); }")
    ctx = analyse(Source("stdin", program), fixture_options())
    assert "struct mine" in ctx.c_types.structs and "struct task_struct" not in ctx.c_types.structs
