"""The ring buffer's size: large for programs that stream output, small for the
others (it is all resident memory), or `perf_rb_pages` pages as bpftrace rounds them."""

import pytest

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.codegen.state import ringbuf_size
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def ring_bytes(text: str, **options) -> int:
    artifact = generate(analyse(Source("stdin", text), fixture_options(**options)))
    return artifact.maps[artifact.ringbuf_map].max_entries


def test_programs_that_stream_output_get_the_large_ring():
    assert ring_bytes('tracepoint:syscalls:sys_enter_openat { printf("%d\\n", pid); }') == 4 << 20
    assert ring_bytes("tracepoint:syscalls:sys_enter_openat { print(@x); @x = 1; }") == 4 << 20


def test_programs_without_output_streams_get_a_small_ring():
    assert ring_bytes("tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }") == 64 << 10
    assert ring_bytes("tracepoint:syscalls:sys_enter_openat { @n = count(); exit(); }") == 64 << 10


def test_perf_rb_pages_sets_it():
    assert ring_bytes("config = { perf_rb_pages = 256 } tracepoint:syscalls:sys_enter_openat { @n = count(); }") \
        == 256 * 4096
    assert ring_bytes("tracepoint:syscalls:sys_enter_openat { @n = count(); }", perf_rb_pages=4096) == 16 << 20


@pytest.mark.parametrize("pages,rounded", [(1, 1), (3, 2), (5, 4), (6, 4), (7, 8), (1000, 1024), (1500, 1024), (1600, 2048)])
def test_pages_round_to_the_closest_power_of_two_ties_down(pages, rounded):
    assert ringbuf_size(pages, True) == rounded * 4096
