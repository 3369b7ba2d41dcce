"""The aggregations table: count(), sum(), avg(), min(), max(), stats(),
hist(), lhist(), tseries(), each declared once.

An aggregation is only valid as `@map[keys] = f(args)`. Its map is per-CPU:
every CPU updates its own copy of the value and user space combines them when
the map is read. One `Aggregation` entry says everything the compiler and the
runtime need to know about a kind; the other layers read it:

* lang/builtins.py derives the FUNCTIONS entry (arguments, signature, doc)
  and the diagnostic hint from it; `params` checks the constant arguments
  (hist's bits, lhist's min/max/step) and `always_signed` gives the value's
  signedness (else it is signed when the argument is).
* lang/types.AggType sizes the value from `slots`; codegen/state.py adds a
  bucket index to the key of `buckets` kinds.
* codegen/calls.py lowers the call: one function per name, registered in
  its AGGREGATIONS (the only place that knows the BPF instructions).
* runtime/maps.py combines the CPUs' slots with REDUCERS[`reduce`] and
  groups `buckets` kinds into histograms with HISTOGRAMS[`buckets`].
* runtime/output/values.py orders a map's entries by SORT_KEYS[`sort`] and
  shows each value with RENDERERS[`render`]; runtime/output/json.py writes
  `json_type` as the record's "type".
* runtime/exporters/prometheus.py turns a value into samples with
  METRICS[`prometheus`] ("" leaves the map out of the metrics); runtime/frames.py
  turns it into DataFrame rows with COLUMNS[`frame`].

This module is pure data (no imports from the rest of pytrace), so lang,
codegen and runtime can all read it; the runtime maps the keys named here to
its functions, lang never imports the runtime.

Adding an aggregation (as `tseries` was) touches: one entry below; its lowering
in codegen/calls.py (`@aggregation("tseries")`); and, when an existing key
does not fit, a reducer in runtime/maps.REDUCERS (or a histogram builder in
HISTOGRAMS), a sort key in runtime/output/values.SORT_KEYS and a renderer in
runtime/output/values.RENDERERS (with its text/JSON printing if its output
value is a new shape). tests/lang/test_aggregations.py checks that every
entry has all of these.

The zero value of every kind is all slots 0: an entry the program has not
touched, and what zero(@m) writes. What print() shows for an empty map is
the renderer's `zero`.
"""

from __future__ import annotations

from collections.abc import Callable  # (not typing: the exit's map reading imports this module)
from pytrace.lang.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytrace.lang import ast
    from pytrace.lang.passes.typecheck import TypeChecker

ParamsCheck = Callable[["ast.Call", "TypeChecker"], tuple[int, ...]]


def _no_params(call: "ast.Call", tc: "TypeChecker") -> tuple[int, ...]:
    return ()


def _hist_params(call: "ast.Call", tc: "TypeChecker") -> tuple[int, ...]:
    """hist(n[, k]): k, the log2 of the sub-buckets per power of 2, in 0..5."""
    if len(call.args) < 2:
        return (0,)
    k = tc.expect_const(call.name, call.args[1], "the second argument")
    if k is not None and not 0 <= k <= 5:
        tc.error("hist: bits must be between 0 and 5", call.args[1])
    return (k or 0,)


def _lhist_params(call: "ast.Call", tc: "TypeChecker") -> tuple[int, ...]:
    """lhist(n, min, max, step): constants, at most 1000 buckets."""
    vals = [tc.expect_const(call.name, a, "every argument but the first") for a in call.args[1:]]
    if None in vals:
        return ()
    lo, hi, step = vals
    if step <= 0:
        tc.error("lhist() step must be >= 1", call.args[3])
    elif hi <= lo:
        tc.error("lhist() max must be greater than min", call.args[2])
    elif (hi - lo) // step > 1000:
        tc.error("lhist() too many buckets, must be <= 1000 (max-min)/step", call)
    return (lo, hi, max(step, 1))


# tseries()'s optional fourth argument: how values of one interval combine
# (the code is the last of its AggType params; "" is the last value written).
TSERIES_FUNCS = ("", "avg", "max", "min", "sum")
UNSTABLE_TSERIES = ("Script is using an unstable feature: tseries. To prevent this warning you must "
                    "explicitly enable it in the config e.g. unstable_tseries=enable")


def _tseries_params(call: "ast.Call", tc: "TypeChecker") -> tuple[int, ...]:
    """tseries(n, interval_ns, num_intervals[, agg]): (interval_ns, num_intervals, agg code).
    tseries is unstable in bpftrace: it warns once unless the config enables it."""
    from pytrace.lang import ast

    mode = tc.ctx.options.unstable_tseries
    if mode == "error":
        tc.error("tseries feature is not enabled by default. To enable this unstable feature, set the config "
                 "flag to enable. unstable_tseries=enable", call)
    elif mode == "warn" and tc.final and all(d.message != UNSTABLE_TSERIES for d in tc.diags.warnings):
        tc.diags.warning(UNSTABLE_TSERIES)
    for arg in call.args[1:]:
        tc.expr(arg)
    interval, count = (tc.const_int(a) for a in call.args[1:3])
    if interval is None:
        tc.error("tseries: invalid interval_ns value (must be non-negative literal)", call)
        return ()
    if count is None:
        tc.error("tseries: invalid num_intervals value (must be non-negative literal)", call)
        return ()
    if interval <= 0:
        tc.error(f"tseries() interval_ns must be >= 1 ({interval} provided)", call)
        return ()
    if count <= 0:
        tc.error(f"tseries() num_intervals must be >= 1 ({count} provided)", call)
        return ()
    if count > 1000000:
        tc.error(f"tseries() num_intervals must be < 1000000 ({count} provided)", call)
    func = ""
    if len(call.args) == 4:
        arg = call.args[3]
        if not isinstance(arg, ast.String):
            tc.error("tseries() expects a string literal as the aggregation function", arg)
            return ()
        func = arg.value
        if func not in TSERIES_FUNCS[1:]:
            tc.error("tseries() expects one of the following aggregation functions: "
                     f"{', '.join(TSERIES_FUNCS[1:])} (\"{func}\" provided)", call)
            return ()
    return (interval, count, TSERIES_FUNCS.index(func))


@record(frozen=True)
class Aggregation:
    name: str
    min_args: int
    max_args: int
    signature: str  # for the language reference
    doc: str
    hint: str  # a call to suggest in diagnostics, e.g. "hist(retval)"
    params: ParamsCheck = _no_params  # checks the constant arguments; returns AggType.params
    always_signed: bool = False  # else the value is signed when the argument is
    slots: int = 1  # u64 slots per CPU: count/sum 1; avg/stats (total, count); min/max (value, is-set);
    #                 tseries (value, meta, epoch): meta is the time written, the count (avg) or is-set (min/max)
    buckets: str = ""  # "log2"/"linear"/"tseries": the key ends with a u64 bucket index (tseries: interval slot)
    reduce: str = "sum"  # how the CPUs' values combine: runtime/maps.REDUCERS
    sort: str = "value"  # what print() orders entries by: runtime/output/values.SORT_KEYS
    render: str = "int"  # how a value prints: runtime/output/values.RENDERERS
    json_type: str = "map"  # the "type" of its JSON record ("stats" values are wrapped as output::Value::Stats)
    prometheus: str = "gauge"  # its Prometheus metric: runtime/exporters/prometheus.METRICS ("" = none)
    frame: str = "value"  # its DataFrame columns and rows: runtime/frames.COLUMNS
    readable: bool = False  # whether `@m[k]` may be read in an expression (as an integer: the
    #                         CPUs' values combined by `reduce`, codegen/agg_read.py) and iterated by for

    @property
    def value_size(self) -> int:
        return 8 * self.slots


AGGREGATIONS: dict[str, Aggregation] = {a.name: a for a in [
    Aggregation("count", 0, 0, "@m = count()", "count events", "count()",
                render="count", prometheus="counter", readable=True),
    Aggregation("sum", 1, 1, "@m = sum(n)", "sum of values", "sum(retval)",
                always_signed=True, readable=True),
    Aggregation("avg", 1, 1, "@m = avg(n)", "average of values", "avg(retval)",
                always_signed=True, slots=2, reduce="avg", sort="average", render="avg", json_type="stats",
                prometheus="avg", frame="stats", readable=True),
    Aggregation("min", 1, 1, "@m = min(n)", "minimum value", "min(retval)",
                always_signed=True, slots=2, reduce="min", sort="unsigned", readable=True),
    Aggregation("max", 1, 1, "@m = max(n)", "maximum value", "max(retval)",
                always_signed=True, slots=2, reduce="max", sort="unsigned", readable=True),
    Aggregation("stats", 1, 1, "@m = stats(n)", "count, average and total", "stats(arg2)",
                always_signed=True, slots=2, reduce="stats", sort="average", render="stats", json_type="stats",
                prometheus="stats", frame="stats"),
    Aggregation("hist", 1, 2, "@m = hist(n[, k])", "power-of-2 histogram (k: 2^k sub-buckets per power)",
                "hist(retval)", params=_hist_params, buckets="log2", sort="buckets", render="hist",
                json_type="hist", prometheus="hist", frame="buckets"),
    Aggregation("lhist", 4, 4, "@m = lhist(n, min, max, step)", "linear histogram", "lhist(rand %10, 0, 10, 1)",
                params=_lhist_params, buckets="linear", sort="buckets", render="lhist", json_type="hist",
                prometheus="lhist", frame="buckets"),
    Aggregation("tseries", 3, 4, "@m = tseries(n, interval_ns, num_intervals[, agg])",
                "time series of the last value (or the avg/max/min/sum) per interval, the last num_intervals "
                "intervals", "tseries(rand %10, 10s, 1)", params=_tseries_params, slots=3, buckets="tseries",
                reduce="tseries", sort="key", render="tseries", json_type="tseries",
                prometheus="", frame="tseries"),
]}


def get(kind: str) -> Aggregation | None:
    """The aggregation of a map kind; None for "scalar" (plain values) and internal maps."""
    return AGGREGATIONS.get(kind)
