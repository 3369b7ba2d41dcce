"""The aggregations table (lang/aggregations.py) as the language sees it:
every entry is a builtin function derived from it, and the type checker
takes the value type, size, signedness and parameters from it."""

import pytest

from conftest import fixture_options
from pytrace.lang import aggregations, builtins
from pytrace.lang import types as T
from pytrace.lang.aggregations import AGGREGATIONS
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source

# A valid call of each aggregation, with the AggType params it should give.
CALLS = {
    "count": ("count()", ()),
    "sum": ("sum(pid)", ()),
    "avg": ("avg(pid)", ()),
    "min": ("min(pid)", ()),
    "max": ("max(pid)", ()),
    "stats": ("stats(pid)", ()),
    "hist": ("hist(pid, 2)", (2,)),
    "lhist": ("lhist(pid, 0, 100, 10)", (0, 100, 10)),
}


def map_info(call: str, name: str = "@m"):
    ctx = analyse(Source("stdin", f"BEGIN {{ {name}[1] = {call}; }}"), fixture_options())
    return ctx.maps[name]


def test_every_entry_is_a_builtin_function():
    for name, agg in AGGREGATIONS.items():
        fn = builtins.FUNCTIONS[name]
        assert fn.aggregation
        assert (fn.min_args, fn.max_args, fn.doc, fn.signature) == \
            (agg.min_args, agg.max_args, agg.doc, agg.signature)
        assert builtins.AGGREGATE_HINTS[name] == agg.hint
    assert {f.name for f in builtins.FUNCTIONS.values() if f.aggregation} == set(AGGREGATIONS)


def test_table_is_complete():
    assert set(CALLS) == set(AGGREGATIONS)
    for agg in AGGREGATIONS.values():
        assert agg.slots in (1, 2)
        assert agg.min_args <= agg.max_args
        assert agg.hint.startswith(agg.name + "(")
        assert aggregations.get(agg.name) is agg
    assert aggregations.get("scalar") is None


@pytest.mark.parametrize("name", sorted(CALLS))
def test_map_value_type_comes_from_the_table(name):
    call, params = CALLS[name]
    agg = AGGREGATIONS[name]
    info = map_info(call)
    assert info.kind == name and info.aggregation is agg and info.percpu
    vt = info.value_type
    assert isinstance(vt, T.AggType)
    assert vt.params == params
    assert vt.size == 8 * agg.slots
    # pid is unsigned: the value is signed only when the table says so
    assert vt.signed == agg.always_signed


@pytest.mark.parametrize("name", sorted(CALLS))
def test_aggregation_values_cannot_be_read(name):
    assert not AGGREGATIONS[name].readable
    with pytest.raises(CompileError, match="aggregation and cannot be used in an expression"):
        analyse(Source("stdin", f"BEGIN {{ @m = {CALLS[name][0]}; $x = @m; }}"), fixture_options())


def test_kinds_do_not_mix():
    with pytest.raises(CompileError, match="Type mismatch for @m"):
        analyse(Source("stdin", "BEGIN { @m = count(); @m = sum(pid); }"), fixture_options())
    with pytest.raises(CompileError, match="Type mismatch for @m"):
        analyse(Source("stdin", "BEGIN { @m = hist(pid, 1); @m = hist(pid, 2); }"), fixture_options())


@pytest.mark.parametrize("call, message", [
    ("hist(pid, 6)", "hist: bits must be between 0 and 5"),
    ("lhist(pid, 0, 100, 0)", "lhist() step must be >= 1"),
    ("lhist(pid, 10, 0, 1)", "lhist() max must be greater than min"),
    ("lhist(pid, 0, 100000, 1)", "lhist() too many buckets"),
])
def test_constant_parameters_are_checked(call, message):
    with pytest.raises(CompileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        analyse(Source("stdin", f"BEGIN {{ @m = {call}; }}"), fixture_options())
