"""A probe listing attach points of several probe types compiles to one
program per probe type (or per attach point where the provider says so),
each checked for its own provider, as bpftrace allows. Pure (fixture kernel)."""

import pytest

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def programs(text: str, **options) -> list[tuple[str, str, int]]:
    artifact = generate(analyse(Source("stdin", text), fixture_options(**options)))
    return [(p.provider, p.prog_type, len(p.attach)) for p in artifact.programs]


def test_kprobe_and_tracepoint_in_one_list_are_two_programs():
    assert programs("kprobe:vfs_read, tracepoint:syscalls:sys_enter_openat { @ = count(); }") == [
        ("kprobe", "kprobe", 1), ("tracepoint", "tracepoint", 1)]


def test_each_probe_type_gets_its_programs_in_the_order_first_listed():
    text = ("interval:s:1, tracepoint:syscalls:sys_enter_getpid, profile:hz:99, "
            "tracepoint:syscalls:sys_enter_getppid, software:cpu-clock:100000 { @[probe] = count(); }")
    assert programs(text) == [("interval", "perf_event", 1), ("tracepoint", "tracepoint", 1),
                              ("tracepoint", "tracepoint", 1), ("profile", "perf_event", 1),
                              ("software", "perf_event", 1)]


def test_attach_points_of_one_type_still_share_a_program():
    text = "tracepoint:syscalls:sys_enter_getpid, interval:s:1, tracepoint:syscalls:sys_enter_getppid { @ = count(); }"
    assert programs(text) == [("tracepoint", "tracepoint", 2), ("interval", "perf_event", 1)]


def test_the_maps_are_shared_between_the_programs():
    artifact = generate(analyse(Source("stdin", "kprobe:vfs_read, interval:s:1 { @n[comm] = count(); }"),
                                fixture_options()))
    assert [m.name for m in artifact.maps if not m.name.startswith("__")] == ["@n"]


def test_each_type_is_checked_with_its_own_variables():
    assert programs("kprobe:vfs_read, interval:s:1, kprobe:vfs_write { @[comm] = count(); }") == [
        ("kprobe", "kprobe", 2), ("interval", "perf_event", 1)]
    with pytest.raises(CompileError) as e:
        analyse(Source("stdin", "kprobe:vfs_read, interval:s:1 { @ = arg0; }"), fixture_options())
    assert "can only be used with" in str(e.value) and "(not interval)" in str(e.value)


def test_a_mistake_in_the_shared_body_is_reported_once():
    with pytest.raises(CompileError) as e:
        analyse(Source("stdin", "kprobe:vfs_read, tracepoint:syscalls:sys_enter_getpid { @ = nope; }"),
                fixture_options())
    assert str(e.value).count("Unknown identifier: 'nope'") == 1


def test_the_pid_filter_goes_where_each_provider_needs_it():
    ctx = analyse(Source("stdin", "kprobe:vfs_read, tracepoint:syscalls:sys_enter_getpid { @ = count(); }"),
                  fixture_options(pid_filter=1234))
    assert [u.probe.predicate is not None for u in ctx.units] == [True, True]
    assert ctx.units[0].probe.predicate is not ctx.units[1].probe.predicate
