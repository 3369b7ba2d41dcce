"""Maps as pandas DataFrames (`probes.dataframe("@name")`,
`pytrace.to_dataframe(value)`), for notebooks.

A frame has one column per key part (named as Prometheus labels are:
runtime/output/keys.py) and one per value field. Each aggregation's value
fields are named by its `frame` field in lang/aggregations.py, a key of
COLUMNS here:

    value    count(), sum(), min(), max() and plain values: `value`
             (a record value: one column per field; a tuple: value0, value1, ...)
    stats    avg() and stats(): `count`, `avg`, `total`
    buckets  hist() and lhist(): one row per bucket from the lowest to the highest
             with a count, `low` (inclusive), `high` (exclusive) and `count`;
             an open end is <NA> (pandas' nullable Int64)
    tseries  tseries(): one row per interval, `time_ns` (its start) and `value`

Rows come in key order. pandas is an optional dependency (`pytrace[pandas]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pytrace.lang import aggregations
from pytrace.runtime.output import buckets, keys
from pytrace.runtime.output.values import (Avg, Hist, LHist, MapData, Record, Stats, Symbolic, TSeries,
                                           build_time_series, sort_by_key)

PANDAS_MISSING = "DataFrames need pandas, an optional dependency of pytrace: pip install 'pytrace[pandas]'"


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(PANDAS_MISSING) from None
    return pandas


def _plain(v):
    if isinstance(v, Symbolic):
        return v.symbol
    return v


def _value_rows(v) -> list[dict]:
    if isinstance(v, Record):
        return [{name: _plain(x) for name, x in v.fields}]
    if isinstance(v, tuple):
        return [{f"value{i}": _plain(x) for i, x in enumerate(v)}]
    return [{"value": _plain(v)}]


def _stats_rows(v: Avg | Stats) -> list[dict]:
    return [{"count": v.count, "avg": v.average, "total": v.total}]


def _bucket_rows(h: Hist | LHist) -> list[dict]:
    return [{"low": b.low, "high": b.high, "count": b.count} for b in buckets.used_buckets(h)]


def _tseries_rows(s: TSeries) -> list[dict]:
    return [{"time_ns": t, "value": v} for t, v in build_time_series(s).points]


@dataclass(frozen=True)
class Columns:
    rows: Callable  # a value -> its rows' value fields
    names: tuple = ()  # the value columns of an empty map
    dtypes: tuple = ()  # (column, pandas dtype) pairs


COLUMNS = {
    "value": Columns(_value_rows, ("value",)),
    "stats": Columns(_stats_rows, ("count", "avg", "total")),
    "buckets": Columns(_bucket_rows, ("low", "high", "count"), (("low", "Int64"), ("high", "Int64"))),
    "tseries": Columns(_tseries_rows, ("time_ns", "value")),
}

# The kind of a value of Probes.maps() (a MapData says its kind itself).
_KIND_OF_VALUE = {Hist: "hist", LHist: "lhist", Avg: "avg", Stats: "stats", TSeries: "tseries"}


def _as_map_data(value) -> MapData:
    if isinstance(value, MapData):
        return value
    if isinstance(value, dict):  # {key tuple: value}
        entries = list(value.items())
        first = entries[0][1] if entries else None
        return MapData("", _KIND_OF_VALUE.get(type(first), "scalar"), entries, scalar=False)
    entries = [] if value is None else [(None, value)]  # a map without keys
    return MapData("", _KIND_OF_VALUE.get(type(value), "scalar"), entries, scalar=True)


def columns_of(kind: str) -> Columns:
    agg = aggregations.get(kind)
    return COLUMNS[agg.frame if agg is not None else "value"]


def to_dataframe(value, labels=()):
    """A map as a DataFrame: a MapData, or a value of Probes.maps()."""
    pandas = _pandas()
    data = _as_map_data(value)
    columns = columns_of(data.kind)
    entries = sort_by_key(data.entries) if not data.is_scalar else data.entries
    parts = len(keys.key_parts(entries[0][0])) if entries else 0
    key_columns = keys.part_names(parts, labels)
    records = []
    for key, v in entries:
        key_cells = dict(zip(key_columns, (keys.part_value(p) for p in keys.key_parts(key))))
        records.extend({**key_cells, **row} for row in columns.rows(v))
    if not records:
        return pandas.DataFrame(columns=list(columns.names))
    frame = pandas.DataFrame.from_records(records)
    for column, dtype in columns.dtypes:
        frame[column] = frame[column].astype(dtype)
    return frame
