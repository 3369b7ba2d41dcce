"""Every entry of the aggregations table (lang/aggregations.py) is known to
each layer that reads it: a codegen lowering, a per-CPU reducer (and a
histogram builder for bucketed kinds), a sort key, a renderer, and text and
JSON output. Pure: no BPF is loaded."""

import json as stdjson
import struct

import pytest

from pytrace.codegen import calls
from pytrace.codegen.state import bpf_key_type
from pytrace.lang import types as T
from pytrace.lang.aggregations import AGGREGATIONS
from pytrace.lang.context import MapInfo
from pytrace.runtime import maps
from pytrace.runtime.output import json, text
from pytrace.runtime.output.values import RENDERERS, SORT_KEYS, MapData

PARAMS = {"hist": (0,), "lhist": (0, 100, 10)}


def slots(*values: int) -> bytes:
    """One CPU's value: u64 slots, as the BPF program writes them."""
    return b"".join(struct.pack("<q", v) for v in values)


def sample_value(agg, signed=True):
    """A reduced value of two CPUs, as read_map builds it."""
    cpus = [slots(*[3] * agg.slots), slots(*[5] * agg.slots)]
    value = maps.REDUCERS[agg.reduce](cpus, signed)
    if agg.buckets:
        value = maps.HISTOGRAMS[agg.buckets]({2: value, 4: 1}, PARAMS.get(agg.name, ()))
    return value


@pytest.mark.parametrize("name", sorted(AGGREGATIONS))
def test_every_layer_knows_the_entry(name):
    agg = AGGREGATIONS[name]
    assert callable(calls.AGGREGATIONS[name])
    assert agg.reduce in maps.REDUCERS
    assert not agg.buckets or agg.buckets in maps.HISTOGRAMS
    assert agg.sort in SORT_KEYS
    assert agg.render in RENDERERS
    assert json.json_type(name) == agg.json_type


def test_no_lowering_without_an_entry():
    assert set(calls.AGGREGATIONS) == set(AGGREGATIONS)


@pytest.mark.parametrize("name", sorted(AGGREGATIONS))
def test_bucketed_kinds_get_a_bucket_in_the_key(name):
    agg = AGGREGATIONS[name]
    info = MapInfo("@m", name, T.AggType(name, False, PARAMS.get(name, ())), [T.U32])
    assert len(bpf_key_type(info).elems) == (2 if agg.buckets else 1)


@pytest.mark.parametrize("name", sorted(AGGREGATIONS))
@pytest.mark.parametrize("keyed", [False, True])
def test_text_and_json_print_every_kind(name, keyed):
    agg = AGGREGATIONS[name]
    value = sample_value(agg)
    entries = [(("a",), value), (("b",), sample_value(agg))] if keyed else [(None, value)]
    m = MapData("@m", name, entries, scalar=not keyed)
    out = text.format_map(m)
    assert out.startswith("@m[a]" if keyed else "@m")
    line = json.format_map(m)
    record = stdjson.loads(line)
    assert record["type"] == agg.json_type
    assert "@m" in record["data"]


def test_reducers_combine_cpus():
    two = [slots(7, 1), slots(-2, 1), slots(100, 0)]  # the last CPU never set min/max
    assert maps.REDUCERS["sum"]([slots(7), slots(-2)], True) == 5
    assert maps.REDUCERS["min"](two, True) == -2
    assert maps.REDUCERS["max"](two, True) == 7
    assert maps.REDUCERS["min"]([slots(0, 0)], True) == 0
    avg = maps.REDUCERS["avg"]([slots(10, 2), slots(20, 3)], True)
    assert (avg.total, avg.count, avg.average) == (30, 5, 6)
    stats = maps.REDUCERS["stats"]([slots(10, 2), slots(20, 3)], True)
    assert (stats.count, stats.total) == (5, 30)
