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
    "tseries": ("tseries(pid, 1s, 5, \"max\")", (10**9, 5, 2)),
}
READABLE = {"count", "sum", "avg", "min", "max"}  # as bpftrace: an integer in expressions


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
        assert agg.slots in (1, 2, 3)
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


def analyse_text(text: str):
    return analyse(Source("stdin", text), fixture_options())


@pytest.mark.parametrize("name", sorted(CALLS))
def test_which_values_can_be_read(name):
    agg = AGGREGATIONS[name]
    assert agg.readable == (name in READABLE)
    text = f"BEGIN {{ @m = {CALLS[name][0]}; $x = @m; }}"
    if agg.readable:
        ctx = analyse_text(text)
        var_t = ctx.units[0].variables["$x"]
        assert var_t == T.IntType(64, ctx.maps["@m"].value_type.signed)
    else:
        with pytest.raises(CompileError, match=f"Value '{name}_t' cannot be assigned to a scratch variable"):
            analyse_text(text)


@pytest.mark.parametrize("text", [
    "BEGIN { @c = count(); if (@c > 10) { exit(); } }",
    "BEGIN { @s = sum(5); $x = @s + 1; print($x); }",
    "BEGIN { @a = avg(-1); @m = min(1); @M = max(2); print((@a, @m, @M)); }",
    "BEGIN { @a = count(); @b = sum(5); @[@a, @b] = 1; }",
    "BEGIN { @a = count(); printf(\"%d\\n\", (uint16)@a); }",
    "BEGIN { @x = 1; @y = count(); @x = @y; }",  # @x holds integers anyway
    "BEGIN { @c[1, 2] = count(); for ($kv : @c) { print($kv.1 + 1); } }",
])
def test_readable_aggregations_are_integers(text):
    analyse_text(text)


@pytest.mark.parametrize("text, message", [
    ("BEGIN { @y = count(); @x = @y; }",
     "Map value 'count_t' cannot be assigned from one map to another. The function that returns this type must be "
     "called directly e.g. `@x = count();`."),
    ("BEGIN { @x = hist(10); @y[@x] = 1; }", "Value 'hist_t' cannot be used as a map key."),
    ("BEGIN { @x[1] = hist(10); $y = (1, @x[1]); }", "Map type hist_t cannot exist inside a tuple."),
    ("BEGIN { @x[1] = lhist(1, 0, 10, 1); print(@x[1]); }",
     "Map type lhist_t cannot print the value of individual keys. You must print the whole map."),
    ("BEGIN { @x = stats(1); print(@x); print(@x[0]); }", "stats_t type passed to print() is not printable"),
    ("BEGIN { @ = hist(5); print((1, (uint16)@)); }", 'Cannot cast from "hist_t" to "uint16"'),
    ("BEGIN { @ = tseries(5, 1s, 2); if (@ > 0) { } }", "Type mismatch for '>': comparing tseries_t with int8"),
    ("BEGIN { @m[0] = tseries(10, 10s, 10); for ($kv : @m) { } }", "Loop expression does not support type: tseries_t"),
    ("BEGIN { @m[0] = stats(10); for ($kv : @m) { } }", "Loop expression does not support type: stats_t"),
])
def test_reads_bpftrace_refuses(text, message):
    with pytest.raises(CompileError) as err:
        analyse_text(text)
    assert f"ERROR: {message}\n" in str(err.value)


def test_copying_a_count_hints_at_a_cast():
    with pytest.raises(CompileError) as err:
        analyse_text("BEGIN { @y = count(); @x = @y; }")
    assert "HINT: Add a cast to integer if you want the value of the aggregate, e.g. `@x = (int64)@y;`." \
        in str(err.value)


def test_kinds_do_not_mix():
    with pytest.raises(CompileError, match="Type mismatch for @m"):
        analyse(Source("stdin", "BEGIN { @m = count(); @m = sum(pid); }"), fixture_options())
    with pytest.raises(CompileError, match="Type mismatch for @m"):
        analyse(Source("stdin", "BEGIN { @m = hist(pid, 1); @m = hist(pid, 2); }"), fixture_options())


@pytest.mark.parametrize("call, message", [
    ("tseries(pid, 0, 5)", "tseries() interval_ns must be >= 1 (0 provided)"),
    ("tseries(pid, 1s, -2)", "tseries() num_intervals must be >= 1 (-2 provided)"),
    ("tseries(pid, 1s, 1000001)", "tseries() num_intervals must be < 1000000 (1000001 provided)"),
    ("tseries(pid, pid, 5)", "tseries: invalid interval_ns value (must be non-negative literal)"),
    ("tseries(pid, 1s, pid)", "tseries: invalid num_intervals value (must be non-negative literal)"),
    ("tseries(pid, 1s, 5, \"last\")",
     'tseries() expects one of the following aggregation functions: avg, max, min, sum ("last" provided)'),
    ("hist(pid, 6)", "hist: bits must be between 0 and 5"),
    ("lhist(pid, 0, 100, 0)", "lhist() step must be >= 1"),
    ("lhist(pid, 10, 0, 1)", "lhist() max must be greater than min"),
    ("lhist(pid, 0, 100000, 1)", "lhist() too many buckets"),
])
def test_constant_parameters_are_checked(call, message):
    with pytest.raises(CompileError) as err:
        analyse(Source("stdin", f"BEGIN {{ @m = {call}; }}"), fixture_options())
    assert message in str(err.value)


def test_tseries_is_unstable():
    """bpftrace warns once per program; config unstable_tseries=enable silences it, =error refuses."""
    ctx = analyse_text("BEGIN { @a = tseries(1, 1s, 2); @b = tseries(2, 1s, 2); }")
    assert [d.message for d in ctx.diags.warnings] == [aggregations.UNSTABLE_TSERIES]
    ctx = analyse_text("config = { unstable_tseries = enable } BEGIN { @a = tseries(1, 1s, 2); }")
    assert not ctx.diags.warnings
    with pytest.raises(CompileError, match="tseries feature is not enabled by default"):
        analyse_text("config = { unstable_tseries = error } BEGIN { @a = tseries(1, 1s, 2); }")
