"""Map values as Prometheus metrics, DataFrames, folded stacks and flame
graphs: rendering only (decoded MapData in, exact output out)."""

import re

import pandas
import pytest
from pandas.testing import assert_frame_equal
from prometheus_client import CollectorRegistry, generate_latest

import pytrace
from conftest import fixture_options
from pytrace.codegen.artifact import Artifact, MapSpec
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from pytrace.runtime import flamegraph, frames
from pytrace.runtime.exporters import prometheus
from pytrace.runtime.output import buckets, folded
from pytrace.runtime.output.values import Avg, Hist, LHist, MapData, Record, Stats, hist_index, lhist_index

STACK_A = "\n        inner+4\n        middle+10\n        main+22\n"  # leaf first, as decoded
STACK_B = "\n        other+1\n        main+30\n"


def spec(name, kind="scalar", key_count=1, **kw):
    return MapSpec(index=0, name=name, map_type="hash", key_size=8, value_size=8, max_entries=10, kind=kind,
                   key_count=key_count, **kw)


def exposition(artifact, data, **kw) -> str:
    collector = prometheus.MapCollector(artifact, data.__getitem__, **kw)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


# --- Prometheus ---------------------------------------------------------------------------

def test_counter_gauge_avg_stats_with_labels():
    art = Artifact(maps=[spec("@calls", "count", 2), spec("@", "avg", 0), spec("@st", "stats"),
                         spec("@max", "max"), spec("@v", value_layout={"kind": "int", "size": 8, "signed": True})],
                   prometheus_labels=["comm"])
    data = {"@calls": MapData("@calls", "count", [(("sh", 7), 3), (("cat", 9), 5)]),
            "@": MapData("@", "avg", [(None, Avg(10, 4))], scalar=True),
            "@st": MapData("@st", "stats", [((STACK_A,), Stats(2, 7))]),
            "@max": MapData("@max", "max", [((True,), -4)]),
            "@v": MapData("@v", "scalar", [(None, 42)], scalar=True)}
    assert exposition(art, data) == (
        'pytrace_map 2.0\npytrace_map_count 4.0\npytrace_map_sum 10.0\n'
        'pytrace_calls_total{comm="sh",key1="7"} 3.0\npytrace_calls_total{comm="cat",key1="9"} 5.0\n'
        'pytrace_max{comm="true"} -4.0\n'
        'pytrace_st_count{comm="main;middle;inner"} 2.0\npytrace_st_sum{comm="main;middle;inner"} 7.0\n'
        'pytrace_v 42.0\n')


def test_histograms_have_every_bucket_with_inclusive_bounds():
    art = Artifact(maps=[spec("@h", "hist", 0, params=[0]), spec("@l", "lhist", 0, params=[0, 10, 3])])
    hist = Hist({hist_index(1): 1, hist_index(5): 3})  # bucket [1] once, [4, 8) three times
    lhist = LHist(0, 10, 3, {lhist_index(2, 0, 10, 3): 2, lhist_index(50, 0, 10, 3): 1})
    data = {"@h": MapData("@h", "hist", [(None, hist)], scalar=True),
            "@l": MapData("@l", "lhist", [(None, lhist)], scalar=True)}
    assert exposition(art, data) == (
        'pytrace_h_bucket{le="-1"} 0.0\npytrace_h_bucket{le="0"} 0.0\npytrace_h_bucket{le="1"} 1.0\n'
        'pytrace_h_bucket{le="3"} 1.0\npytrace_h_bucket{le="7"} 4.0\npytrace_h_bucket{le="+Inf"} 4.0\n'
        'pytrace_l_bucket{le="-1"} 0.0\npytrace_l_bucket{le="2"} 2.0\npytrace_l_bucket{le="5"} 2.0\n'
        'pytrace_l_bucket{le="8"} 2.0\npytrace_l_bucket{le="+Inf"} 3.0\n')


def test_hist_buckets_never_shrink_between_scrapes():
    art = Artifact(maps=[spec("@h", "hist", 0, params=[0])])
    data = {"@h": MapData("@h", "hist", [(None, Hist({hist_index(100): 1}))], scalar=True)}
    collector = prometheus.MapCollector(art, lambda name: data[name])
    list(collector.collect())
    data["@h"] = MapData("@h", "hist", [(None, Hist({hist_index(1): 2}))], scalar=True)
    [family] = list(collector.collect())
    assert [s.labels["le"] for s in family.samples] == ["-1", "0", "1", "3", "7", "15", "31", "63", "127", "+Inf"]


def test_non_metrics_are_left_out_with_a_note():
    art = Artifact(maps=[spec("@s", value_layout={"kind": "string", "size": 16}), spec("@t", "tseries"),
                         spec("@c", "count")])
    collector = prometheus.MapCollector(art, lambda name: None)
    assert collector.notes() == ("NOTE: @s is not exported to Prometheus: its values are strings, not numbers\n"
                                 "NOTE: @t is not exported to Prometheus: tseries() values are not metrics\n")
    assert [s.name for s, _ in collector.exported] == ["@c"]


def test_cardinality_is_bounded_with_one_warning():
    warnings = []
    art = Artifact(maps=[spec("@c", "count")])
    data = {"@c": MapData("@c", "count", [((i,), i) for i in range(10)])}
    text = exposition(art, data, max_keys=3, warn=warnings.append)
    assert text == 'pytrace_c_total{key0="9"} 9.0\npytrace_c_total{key0="8"} 8.0\npytrace_c_total{key0="7"} 7.0\n'
    assert warnings == ["WARNING: @c has 10 keys, more than the 3 the Prometheus exporter serves per map: "
                        "only the 3 largest values are exported\n"]


@pytest.mark.parametrize("text, address", [("9100", ("0.0.0.0", 9100)), ("127.0.0.1:0", ("127.0.0.1", 0)),
                                           ("[::1]:9100", ("::1", 9100))])
def test_address(text, address):
    assert prometheus.parse_address(text) == address


def test_bad_address():
    with pytest.raises(ValueError, match="expected \\[HOST:\\]PORT"):
        prometheus.parse_address("localhost:http")


def test_label_names_come_from_the_config_block():
    ctx = analyse(Source("stdin", 'config = { prometheus_labels = "comm, pid" } BEGIN { @[comm, pid] = count(); }'),
                  fixture_options())
    assert ctx.options.prometheus_labels == ["comm", "pid"]
    with pytest.raises(CompileError) as e:
        analyse(Source("stdin", 'config = { prometheus_labels = "comm,1x" } BEGIN { }'), fixture_options())
    assert str(e.value).startswith("stdin:1:32-41: ERROR: prometheus_labels: expects a string of comma-separated "
                                   'label names, e.g. "comm,pid"')


# --- DataFrames ---------------------------------------------------------------------------

def test_dataframe_of_counts_with_named_keys():
    m = MapData("@c", "count", [(("sh", 7), 3), (("cat", 9), 5), (("cat", 2), 1)])
    expected = pandas.DataFrame({"comm": ["cat", "cat", "sh"], "pid": [2, 9, 7], "value": [1, 5, 3]})
    assert_frame_equal(pytrace.to_dataframe(m, ["comm", "pid"]), expected)


def test_dataframe_of_hist_is_one_row_per_bucket():
    m = MapData("@h", "hist", [(("a",), Hist({hist_index(0): 2, hist_index(5): 1})),
                               (("b",), Hist({hist_index(-3): 4}))])
    expected = pandas.DataFrame({"key0": ["a", "a", "a", "a", "b"],
                                 "low": pandas.array([0, 1, 2, 4, None], dtype="Int64"),
                                 "high": pandas.array([1, 2, 4, 8, 0], dtype="Int64"),
                                 "count": [2, 0, 0, 1, 4]})
    assert_frame_equal(frames.to_dataframe(m), expected)


def test_dataframe_of_lhist_has_open_ends():
    h = LHist(0, 10, 5, {lhist_index(-1, 0, 10, 5): 1, lhist_index(7, 0, 10, 5): 2, lhist_index(99, 0, 10, 5): 3})
    expected = pandas.DataFrame({"low": pandas.array([None, 0, 5, 10], dtype="Int64"),
                                 "high": pandas.array([0, 5, 10, None], dtype="Int64"),
                                 "count": [1, 0, 2, 3]})
    assert_frame_equal(pytrace.to_dataframe(h), expected)


def test_dataframe_of_stats_and_avg_and_plain_values():
    stats = {("x",): Stats(3, 10), ("y",): Stats(0, 0)}
    assert_frame_equal(pytrace.to_dataframe(stats), pandas.DataFrame(
        {"key0": ["x", "y"], "count": [3, 0], "avg": [3, 0], "total": [10, 0]}))
    assert_frame_equal(pytrace.to_dataframe(Avg(-7, 2)), pandas.DataFrame({"count": [2], "avg": [-3], "total": [-7]}))
    records = MapData("@r", "scalar", [((1,), Record((("a", 1), ("b", "z"))))])
    assert_frame_equal(frames.to_dataframe(records), pandas.DataFrame({"key0": [1], "a": [1], "b": ["z"]}))
    assert_frame_equal(frames.to_dataframe({(STACK_B,): 4}),
                       pandas.DataFrame({"key0": ["main;other"], "value": [4]}))


def test_empty_map_gives_the_columns():
    frame = frames.to_dataframe(MapData("@h", "hist", []))
    assert list(frame.columns) == ["low", "high", "count"] and len(frame) == 0


def test_without_pandas_the_error_says_how_to_get_it(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pandas(name, *args, **kw):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=re.escape("pip install 'pytrace[pandas]'")):
        pytrace.to_dataframe({("a",): 1})


# --- bucket edges -------------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, 3])
def test_hist_edges_hold_exactly_their_values(k):
    for value in list(range(-2, 300)) + [2**40 + 5]:
        low, high = buckets.hist_edges(hist_index(value, k), k)
        assert (low is None or low <= value) and value < high, (value, low, high)


def test_lhist_edges_hold_exactly_their_values():
    h = LHist(-10, 20, 7, {})
    for value in range(-30, 40):
        low, high = buckets.lhist_edges(lhist_index(value, -10, 20, 7), h)
        assert (low is None or low <= value) and (high is None or value < high), (value, low, high)


# --- folded stacks and flame graphs ----------------------------------------------------------

def test_folded_stacks_are_root_first_and_merged():
    m = MapData("@", "count", [((STACK_A,), 3), ((STACK_B,), 1),
                               ((STACK_A.replace("+4", "+8"),), 2)])  # same functions, other offsets
    assert folded.format_map(m) == "main;middle;inner 5\nmain;other 1\n"
    keyed = MapData("@", "count", [(("app", STACK_B), 2)])
    assert folded.fold(keyed) == {"app;main;other": 2}
    # maps without stacks print as text
    assert folded.format_map(MapData("@n", "count", [(None, 3)], scalar=True)) == "@n: 3\n"


def test_perf_mode_frames():
    perf = "\n\t7f001 inner+4 (/usr/bin/app)\n\t7f000 main+2 (/usr/bin/app)\n"
    assert folded.stack_frames(perf) == ["main", "inner"]


def test_flame_graph_layout_nests_callers_and_widths():
    boxes = flamegraph.layout(flamegraph.build_tree({"main;a;b": 3, "main;c": 1}))
    assert [(b.name, b.count, b.x, b.width, b.depth) for b in boxes] == [
        ("all", 4, 0.0, 1.0, 0), ("main", 4, 0.0, 1.0, 1), ("a", 3, 0.0, 0.75, 2), ("b", 3, 0.0, 0.75, 3),
        ("c", 1, 0.75, 0.25, 2)]


def test_flame_graph_svg_is_self_contained():
    svg = flamegraph.render({"main;a<int>;b": 3, "main;c": 1}, title="t")
    assert svg.startswith('<?xml version="1.0"') and svg.endswith("</svg>\n")
    assert "<script" in svg and "function search" in svg and "function zoom" in svg
    assert 'data-name="a&lt;int&gt;"' in svg and "<title>b (3 samples, 75.00%)</title>" in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
