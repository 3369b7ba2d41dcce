"""Properties of generated code (no IR snapshots): artifacts are pure data,
programs need no relocations, tracepoint programs return 0, and the kernel
computes hist/lhist buckets exactly as the output layer's reference does."""

import struct

import pytest

from conftest import fixture_options
from pytrace.codegen.artifact import CONST_BASE, Artifact
from pytrace.codegen.compile import generate
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from pytrace.runtime.output.values import hist_index, lhist_index

LD_IMM64, EXIT, MOV64_IMM = 0x18, 0x95, 0xB7


def compile_(text: str, **options) -> Artifact:
    return generate(analyse(Source("stdin", text), fixture_options(**options)))


def insns(prog) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("<BBhi", prog.insns, i) for i in range(0, len(prog.insns), 8)]


PROGRAM = ('tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[comm, str(args->filename)] = count(); '
           '@h = hist(args->flags); if (args->flags > 5) { return; } printf("%s\\n", comm); } '
           'END { print(@h); exit(); }')


def test_artifact_round_trips_through_json():
    art = compile_(PROGRAM, has_child=True)
    again = Artifact.from_json(art.to_json())
    assert again.to_json() == art.to_json()
    assert [p.insns for p in again.programs] == [p.insns for p in art.programs]


def test_map_references_and_constants_are_pseudo_ld_imm64():
    art = compile_(PROGRAM, has_child=True)
    for prog in art.programs:
        for code, regs, _off, imm in insns(prog):
            if code == LD_IMM64 and regs >> 4 == 1:  # BPF_PSEUDO_MAP_FD
                assert 0 <= imm < len(art.maps) or imm >= CONST_BASE


def test_tracepoint_programs_return_zero():
    art = compile_(PROGRAM, has_child=True)
    tp = [p for p in art.programs if p.prog_type == "tracepoint"]
    assert tp
    for prog in tp:
        code = insns(prog)
        for i, (op, regs, _off, imm) in enumerate(code):
            if op == EXIT:
                prev = code[i - 1]
                assert prev[0] == MOV64_IMM and prev[1] & 0x0F == 0 and prev[3] == 0, f"exit at {i}"


def test_wildcard_probe_without_per_probe_builtins_is_one_program():
    art = compile_("tracepoint:syscalls:sys_enter_getpp*, tracepoint:syscalls:sys_enter_getpid { @ = count(); }")
    assert len(art.programs) == 1 and len(art.programs[0].attach) == 2
    art = compile_("tracepoint:syscalls:sys_enter_getpp*, tracepoint:syscalls:sys_enter_getpid { @[probe] = count(); }")
    assert len(art.programs) == 2


VALUES = [-5, -1, 0, 1, 2, 3, 4, 7, 8, 100, 1023, 1024, 1025, 4095, 65536, 2**31, 2**32 + 7, 2**40 - 1, 2**62]


@pytest.mark.kernel
@pytest.mark.parametrize("k", [0, 1, 3])
def test_kernel_hist_buckets_match_the_reference(k):
    from pytrace.runtime.session import Tracer

    body = " ".join(f"@h = hist({v}, {k});" for v in VALUES)
    art = compile_(f"BEGIN {{ {body} }}")
    with Tracer(art, output=None) as tracer:
        tracer.load()
        tracer.run_special("BEGIN")
        [(_, hist)] = tracer.read_map("@h").entries
    expected: dict[int, int] = {}
    for v in VALUES:
        expected[hist_index(v, k)] = expected.get(hist_index(v, k), 0) + 1
    assert hist.buckets == expected


@pytest.mark.kernel
def test_kernel_lhist_buckets_match_the_reference():
    from pytrace.runtime.session import Tracer

    lo, hi, step = -10, 95, 7
    body = " ".join(f"@l = lhist({v}, {lo}, {hi}, {step});" for v in VALUES + [-10, 94, 95, 96])
    art = compile_(f"BEGIN {{ {body} }}")
    with Tracer(art, output=None) as tracer:
        tracer.load()
        tracer.run_special("BEGIN")
        [(_, lhist)] = tracer.read_map("@l").entries
    expected: dict[int, int] = {}
    for v in VALUES + [-10, 94, 95, 96]:
        i = lhist_index(v, lo, hi, step)
        expected[i] = expected.get(i, 0) + 1
    assert lhist.buckets == expected
