"""Every entry of the aggregations table (lang/aggregations.py) is known to
each layer that reads it: a codegen lowering, a per-CPU reducer (and a
histogram builder for bucketed kinds), a sort key, a renderer, and text and
JSON output. Pure: no BPF is loaded."""

import json as stdjson
import struct
import time

import pytest

from pytrace.codegen import calls
from pytrace.codegen.state import bpf_key_type
from pytrace.lang import types as T
from pytrace.lang.aggregations import AGGREGATIONS
from pytrace.lang.context import MapInfo
from pytrace.runtime import maps
from pytrace.runtime.output import json, text
from pytrace.codegen import agg_read
from pytrace.runtime.output.tseries_text import format_tseries
from pytrace.runtime import frames
from pytrace.runtime.exporters import prometheus
from pytrace.runtime.output.values import RENDERERS, SORT_KEYS, MapData, TimeSeriesView, TSeries, map_value

PARAMS = {"hist": (0,), "lhist": (0, 100, 10), "tseries": (100, 5, 0)}


def slots(*values: int) -> bytes:
    """One CPU's value: u64 slots, as the BPF program writes them."""
    return b"".join(struct.pack("<q", v) for v in values)


def sample_value(agg, signed=True):
    """A reduced value of two CPUs, as read_map builds it."""
    cpus = [slots(*[3] * agg.slots), slots(*[5] * agg.slots)]
    value = maps.REDUCERS[agg.reduce](cpus, signed)
    if agg.buckets:
        other = maps.REDUCERS[agg.reduce]([slots(*[1] * agg.slots)], signed)
        value = maps.HISTOGRAMS[agg.buckets]({2: value, 4: other}, PARAMS.get(agg.name, ()))
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
    assert agg.prometheus == "" or agg.prometheus in prometheus.METRICS
    assert agg.frame in frames.COLUMNS


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


def test_every_readable_kind_has_a_combine_rule():
    """codegen/agg_read.py combines the CPUs' values by the same `reduce` key user space uses."""
    for agg in AGGREGATIONS.values():
        assert not agg.readable or agg.reduce in agg_read.COMBINE


# --- tseries ------------------------------------------------------------------

def tseries_slot(*cpus, signed=True):
    """One interval slot as read from the kernel: each CPU's (value, meta, epoch)."""
    return maps.REDUCERS["tseries"]([slots(*cpu) for cpu in cpus], signed)


@pytest.mark.parametrize("func, expected", [
    ("", (7, 30)),     # the value written last: the CPU with the newest time (meta)
    ("sum", (7, 38)),  # the CPUs of the newest epoch; the older epoch on CPU 2 is left out
    ("avg", (7, 19)),  # totals 30 + 8 over counts (the metas) 1 + 1
    ("min", (7, 8)),
    ("max", (7, 30)),
])
def test_tseries_slot_reduction(func, expected):
    slot = tseries_slot((30, 1, 7), (8, 1, 7), (99, 5, 6))
    assert maps.reduce_tseries_slot(slot, func) == expected


def test_tseries_slot_never_written_is_epoch_zero():
    assert maps.reduce_tseries_slot(tseries_slot((5, 3, 0), (0, 0, 0)), "") == (0, 0)
    unsigned = tseries_slot((-1, 2, 4), (3, 1, 4), signed=False)
    assert maps.reduce_tseries_slot(unsigned, "max") == (4, 2**64 - 1)


def test_tseries_series_from_its_slots():
    series = maps.HISTOGRAMS["tseries"]({0: tseries_slot((4, 1, 5)), 1: tseries_slot((6, 1, 6))}, (100, 3, 0))
    assert (series.interval_ns, series.num_intervals, series.values) == (100, 3, {5: 4, 6: 6})


def series_map(keys_values: dict, interval=100_000_000, count=10):
    entries = [((k,), TSeries(interval, count, v)) for k, v in keys_values.items()]
    return MapData("@a", "tseries", entries, scalar=False)


def test_tseries_window_ends_at_the_newest_epoch_of_the_map():
    m = series_map({"two": {5: 4, 9: 4}, "one": {0: 0, 1: 5, 4: 5}})
    out = map_value(m)
    one, two = (dict(out.entries)[k] for k in ("one", "two"))
    assert [v for _, v in one.points] == [0, 5, None, None, 5, None, None, None, None, None]
    assert [ns for ns, _ in two.points] == [e * 100_000_000 for e in range(5, 10)]
    assert [k for k, _ in out.entries] == ["one", "two"]  # key byte order


def test_tseries_window_before_any_full_window_is_empty():
    """The first epoch is last - num_intervals + 1 in uint64: it wraps, and bpftrace prints nothing."""
    out = map_value(series_map({"a": {1: 3, 2: 3}}))
    assert dict(out.entries)["a"].points == []


def local(ns: int, fmt: str = "%H:%M:%S") -> str:
    return time.strftime(fmt, time.localtime(ns // 10**9))


def test_tseries_text_plot_zero_line_and_missing_values():
    points = [(e * 100_000_000, v) for e, v in enumerate([-5, -1, 0, 3, None, 5])]
    text_out = format_tseries(TimeSeriesView(points))
    h = local(0)
    assert text_out == (
        "             -5                                                  5\n"
        "hh:mm:ss.ms  |___________________________________________________|\n"
        f"{h}.000 *                         .                         | -5\n"
        f"{h}.100 |                   *     .                         | -1\n"
        f"{h}.200 |                         *                         | 0\n"
        f"{h}.300 |                         .              *          | 3\n"
        f"{h}.400 |                         .                         | -\n"
        f"{h}.500 |                         .                         * 5\n"
        "             v___________________________________________________v\n"
        "             -5                                                  5\n")


def test_tseries_text_plot_of_one_value_widens_the_range():
    """Equal minimum and maximum are moved apart by one; a single interval shows nanoseconds."""
    text_out = format_tseries(TimeSeriesView([(3 * 10**9, 0)], signed=False))
    h = local(3 * 10**9)
    assert text_out.splitlines() == [
        "                   0                                                   1",
        "hh:mm:ss.ns        |___________________________________________________|",
        f"{h}.000000000 *                                                   | 0",
        "                   v___________________________________________________v",
        "                   0                                                   1",
    ]
    assert format_tseries(TimeSeriesView([])) == "<no data>"


@pytest.mark.parametrize("interval, header", [(10**9, "hh:mm:ss "), (10**6, "hh:mm:ss.ms  "),
                                              (10**3, "hh:mm:ss.\u03bcs    ")])
def test_tseries_time_column_follows_the_interval(interval, header):
    text_out = format_tseries(TimeSeriesView([(0, 1), (interval, 2)]))
    assert text_out.splitlines()[1].startswith(header + "|")


def test_tseries_text_and_json_of_a_map():
    m = series_map({"one": {0: 0, 1: 5}, "two": {}}, count=2)
    out = text.format_map(m)
    assert out.startswith("@a[one]:\n") and "\n\n@a[two]:\n" in out
    record = json.format_map(m)
    assert record == ('{"type": "tseries", "data": {"@a": {"one": [{"interval_start":"1970-01-01 00:00:00.000000000",'
                      '"value":0},{"interval_start":"1970-01-01 00:00:00.100000000","value":5}], "two": []}}}\n')
    zeroed = MapData("@z", "tseries", [(None, TSeries(10**9, 5, {0: 0}))], scalar=True)
    assert json.format_map(zeroed) == '{"type": "tseries", "data": {"@z": []}}\n'
    assert text.format_map(MapData("@z", "tseries", [], scalar=True), at_exit=True) == ""
