"""Keyless counts in one-element per-CPU arrays (codegen/map_types.py); every other map a hash."""

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source

PROBE = "tracepoint:syscalls:sys_enter_openat"


def map_types(body: str) -> dict:
    artifact = generate(analyse(Source("stdin", f"{PROBE} {{ {body} }}"), fixture_options()))
    return {m.name: (m.map_type, m.key_size, m.max_entries) for m in artifact.maps if not m.name.startswith("__")}


def test_a_keyless_count_is_a_one_element_per_cpu_array():
    assert map_types("@ = count(); @n = count();") == {"@": ("percpu_array", 4, 1), "@n": ("percpu_array", 4, 1)}


def test_read_printed_cleared_or_zeroed_it_stays_an_array():
    assert map_types("@n = count(); if ((int64)@n > 3) { print(@n); clear(@n); zero(@n); }")["@n"][0] == "percpu_array"


def test_deleted_counts_other_aggregations_and_keyed_counts_stay_hashes():
    assert map_types("@n = count(); delete(@n);")["@n"][0] == "percpu_hash"
    types = map_types("@s = sum(1); @h = hist(2); @k[pid] = count(); @x = 1;")
    assert {name: t[0] for name, t in types.items()} == {"@s": "percpu_hash", "@h": "percpu_hash",
                                                         "@k": "percpu_hash", "@x": "hash"}


def test_a_declared_map_keeps_its_declared_type():
    artifact = generate(analyse(Source("stdin", f"let @n = percpulruhash(10); {PROBE} {{ @n = count(); }}"), fixture_options()))
    assert artifact.map_by_name("@n").map_type == "percpu_lru_hash"
