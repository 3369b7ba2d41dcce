"""Decoded value model for map/print output, plus the reference bucket math.

Everything here mirrors current bpftrace (src/types_format.cpp,
src/util/stats.h, src/ast/passes/codegen_llvm.cpp createLog2Function /
createLinearFunction).  Values arrive from the kernel already decoded and
per-CPU reduced:

* plain ``int`` (signedness already applied), ``str``, ``bool``, ``tuple``
  (a bpftrace tuple), ``list`` (a C array), ``bytes`` (a ``buf()`` buffer),
  ``None`` (bpftrace's "none" value), plus the small classes below.
* ``str`` values that carry raw non-UTF-8 bytes should use surrogateescape.

The output modules never look at the kernel: they only turn these objects into
the exact text current bpftrace prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from collections.abc import Callable

from pytrace.lang import aggregations

MASK64 = (1 << 64) - 1


# --- integer helpers (C semantics) -------------------------------------------

def wrap_unsigned(v: int, bits: int) -> int:
    """static_cast to an unsigned integer of ``bits`` bits."""
    return int(v) & ((1 << bits) - 1)


def wrap_signed(v: int, bits: int) -> int:
    """static_cast to a signed (two's complement) integer of ``bits`` bits."""
    v = int(v) & ((1 << bits) - 1)
    return v - (1 << bits) if v >> (bits - 1) else v


def to_s64(v: int) -> int:
    return wrap_signed(v, 64)


def to_u64(v: int) -> int:
    return int(v) & MASK64


def c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_rem(a: int, b: int) -> int:
    return a - c_div(a, b) * b


# --- value classes -----------------------------------------------------------

@dataclass(frozen=True)
class Symbolic:
    """output::Primitive::Symbolic: text shows ``symbol``, JSON shows
    ``numeric`` (as uint64).  Used for pointers ("0x..."), enums and
    histogram labels with K/M/G suffixes.  ``enum=True`` marks an integer
    (enum) type, which bpftrace sorts numerically when used as a map key."""
    symbol: str
    numeric: int
    enum: bool = False


@dataclass(frozen=True)
class Record:
    """A record / struct value: ``fields`` is a tuple of (name, value)."""
    fields: tuple = ()


@dataclass(frozen=True)
class Avg:
    total: int
    count: int

    @property
    def average(self) -> int:
        # util::stats_value: total / count (C division), 0 when count == 0
        return c_div(self.total, self.count) if self.count > 0 else 0


@dataclass(frozen=True)
class Stats:
    count: int
    total: int

    @property
    def average(self) -> int:
        return c_div(self.total, self.count) if self.count > 0 else 0


@dataclass
class Hist:
    """log2 histogram: bucket index (see hist_index) -> count."""
    buckets: dict = field(default_factory=dict)
    k: int = 0


@dataclass
class LHist:
    """linear histogram: bucket index (see lhist_index) -> count."""
    min: int
    max: int
    step: int
    buckets: dict = field(default_factory=dict)


@dataclass
class TSeries:
    """A tseries() entry: the value of each interval still in the map, by its
    epoch (interval start / interval_ns). ``last`` is the newest epoch of the
    whole map (set before printing): every series of a map ends there."""
    interval_ns: int
    num_intervals: int
    values: dict = field(default_factory=dict)
    signed: bool = True
    last: int = 0


@dataclass
class MapData:
    """A whole map as read at print()/exit time.

    ``entries``: list of (key, value) in the order the kernel iterated the map
    (bpf_map_get_next_key order).  ``key`` is None for a map without keys,
    else a tuple (len 1 for ``@x[k]``).  ``scalar``: whether the map has no
    keys; None means "infer from the entries" (an empty map then counts as
    keyed -- pass scalar=True for an empty ``@x = count()`` style map).
    ``zero``: what print() shows for an empty scalar map of kind 'scalar'
    (bpftrace formats a zero-filled value of the map's type).
    """
    name: str
    kind: str
    entries: list = field(default_factory=list)
    scalar: bool | None = None
    zero: object = 0

    @property
    def is_scalar(self) -> bool:
        if self.scalar is not None:
            return self.scalar
        return any(k is None for k, _ in self.entries)


# --- histogram bucket math ---------------------------------------------------

def hist_index(value: int, k: int = 0) -> int:
    """Bucket index the BPF program computes for hist(value, k).

    0 for value < 0; 1 + value for value < 2**k; otherwise
    ((l - k + 1) << k) + ((value >> (l - k)) & (2**k - 1)) + 1 where l is the
    position of the highest set bit.  ``value`` is taken as a signed 64-bit
    integer (the codegen sign- or zero-extends the argument to 64 bits first).
    """
    n = to_s64(value)
    if n < 0:
        return 0
    mask = (1 << k) - 1
    if n <= mask:
        return n + 1
    l = n.bit_length() - 1 - k
    return ((l + 1) << k) + ((n >> l) & mask) + 1


def hist_index_label(index: int, k: int) -> Symbolic:
    """Starting value of bucket ``index`` (index > 2 << k), with suffix."""
    n = 1 << k
    interval = index & (n - 1)
    power = (index >> k) - 1
    value = ((1 << power) * (n + interval)) & MASK64
    decade = power // 10
    suffix = "\0KMGTPE"[decade]
    power -= 10 * decade
    text = str(((1 << power) * (n + interval)) & MASK64)
    if suffix != "\0":
        text += suffix
    return Symbolic(text, value)


def lhist_index(value: int, min: int, max: int, step: int) -> int:
    """Bucket index the BPF program computes for lhist(value, min, max, step).

    0 below min, 1 + (max - min) / step above max, else 1 + (value - min) /
    step; comparisons are signed 64-bit, the divisions unsigned 64-bit.
    """
    v, lo, hi, st = to_s64(value), to_s64(min), to_s64(max), to_u64(step)
    if v < lo:
        return 0
    if v > hi:
        return to_u64(to_u64(hi - lo) // st + 1)
    return to_u64(to_u64(v - lo) // st + 1)


def lhist_index_label(number: int, step: int):
    """Label for a linear-histogram boundary (an int, or K/M suffixed)."""
    number, step = wrap_signed(number, 32), wrap_signed(step, 32)
    kilo, mega = 1024, 1024 * 1024
    if c_rem(step, kilo) != 0:
        return number
    if number == 0:
        text = "0"
    elif c_rem(number, mega) == 0:
        text = f"{c_div(number, mega)}M"
    elif c_rem(number, kilo) == 0:
        text = f"{c_div(number, kilo)}K"
    else:
        text = str(number)
    return Symbolic(text, to_u64(number))


@dataclass
class HistView:
    """output::Value::Histogram: labels are the exclusive upper bounds of the
    buckets; a final count without a label is the open-ended top bucket."""
    lower_bound: object = None
    labels: list = field(default_factory=list)
    counts: list = field(default_factory=list)


def _nonzero_range(buckets: dict):
    # types_format.cpp indices(): note `int v = values.at(i)` (32-bit cast)
    used = [i for i, c in buckets.items() if wrap_signed(c, 32) > 0]
    if not used:
        return -1, -1
    return min(used), max(used)


def build_histogram(h: Hist, div: int = 1) -> HistView:
    view = HistView()
    lo, hi = _nonzero_range(h.buckets)
    if lo == -1:
        return view
    k = h.k
    if lo != 0:
        view.lower_bound = lo - 1 if lo - 1 <= (2 << k) else hist_index_label(lo - 1, k)
    for i in range(lo, hi + 1):
        if i == 0:
            view.labels.append(0)
        elif i <= (2 << k):
            view.labels.append(i)
        else:
            view.labels.append(hist_index_label(i, k))
        view.counts.append(h.buckets.get(i, 0) // div)
    return view


def build_linear_histogram(h: LHist) -> HistView:
    # N.B. div has no effect on linear histograms.
    view = HistView()
    lo, hi = _nonzero_range(h.buckets)
    if lo == -1:
        return view
    mn, mx, step = (wrap_signed(x, 32) for x in (h.min, h.max, h.step))
    if lo != 0:
        view.lower_bound = lhist_index_label(mn + (lo - 1) * step, step)
    for i in range(lo, hi + 1):
        if mn + i * step <= mx:
            view.labels.append(lhist_index_label(mn + i * step, step))
        view.counts.append(h.buckets.get(i, 0))
    return view


@dataclass
class TimeSeriesView:
    """output::Value::TimeSeries: (interval start in ns since 1970, its value
    or None when the interval has none), oldest first."""
    points: list = field(default_factory=list)
    signed: bool = True


def build_time_series(s: TSeries) -> TimeSeriesView:
    """types_format.cpp build_time_series(): the last num_intervals intervals up
    to the map's newest one, starting at this series' oldest interval there."""
    first = to_u64(s.last - s.num_intervals + 1)
    oldest = min((e for e in s.values if e >= first), default=s.last)
    points = [(to_u64(e * s.interval_ns), s.values.get(e)) for e in range(max(first, oldest), s.last + 1)]
    return TimeSeriesView(points, s.signed)


def _tseries_window(entries: list) -> list:
    """Each series ends at the newest epoch of any key of the map."""
    last = max((max(s.values, default=0) for _, s in entries), default=MASK64)
    return [(k, replace(s, last=last)) for k, s in entries]


# --- libstdc++ std::sort emulation -------------------------------------------
# bpftrace orders map entries with std::sort (not stable).  For equal sort
# keys the result depends on libstdc++'s introsort; this reproduces it so that
# ties come out exactly as bpftrace prints them given the same input order.

def std_sort(items, key) -> list:
    a = [(key(x), x) for x in items]
    n = len(a)
    if n > 1:
        _introsort_loop(a, 0, n, 2 * (n.bit_length() - 1))
        _final_insertion_sort(a, 0, n)
    return [x for _, x in a]


def _introsort_loop(a, first, last, depth):
    while last - first > 16:
        if depth == 0:
            _heap_sort(a, first, last)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1)
        cut = _unguarded_partition(a, first + 1, last, a[first][0])
        _introsort_loop(a, cut, last, depth)
        last = cut


def _move_median_to_first(a, result, i, j, k):
    x, y, z = a[i][0], a[j][0], a[k][0]
    if x < y:
        pick = j if y < z else (k if x < z else i)
    elif x < z:
        pick = i
    elif y < z:
        pick = k
    else:
        pick = j
    a[result], a[pick] = a[pick], a[result]


def _unguarded_partition(a, first, last, pivot):
    while True:
        while a[first][0] < pivot:
            first += 1
        last -= 1
        while pivot < a[last][0]:
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _unguarded_linear_insert(a, last):
    val = a[last]
    nxt = last - 1
    while val[0] < a[nxt][0]:
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _insertion_sort(a, first, last):
    for i in range(first + 1, last):
        if a[i][0] < a[first][0]:
            val = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i)


def _final_insertion_sort(a, first, last):
    if last - first > 16:
        _insertion_sort(a, first, first + 16)
        for i in range(first + 16, last):
            _unguarded_linear_insert(a, i)
    else:
        _insertion_sort(a, first, last)


def _adjust_heap(a, first, hole, length, val):
    top = second = hole
    while second < (length - 1) // 2:
        second = 2 * (second + 1)
        if a[first + second][0] < a[first + second - 1][0]:
            second -= 1
        a[first + hole] = a[first + second]
        hole = second
    if (length & 1) == 0 and second == (length - 2) // 2:
        second = 2 * (second + 1)
        a[first + hole] = a[first + second - 1]
        hole = second - 1
    parent = (hole - 1) // 2
    while hole > top and a[first + parent][0] < val[0]:
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = val


def _heap_sort(a, first, last):
    n = last - first
    if n >= 2:
        parent = (n - 2) // 2
        while True:
            _adjust_heap(a, first, parent, n, a[first + parent])
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        val = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, val)


# --- map -> output value (types_format.cpp format(BpfMap)) -------------------

@dataclass
class OrderedMap:
    """output::Value::OrderedMap: [(key primitive, value)] in print order."""
    entries: list = field(default_factory=list)


@dataclass
class StatsValue:
    """output::Value::Stats: marks avg()/stats() maps (JSON type "stats")."""
    value: object = None


def _is_int(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, Symbolic) and v.enum)


def _int_of(v) -> int:
    return v.numeric if isinstance(v, Symbolic) else v


def _str_bytes(s: str) -> bytes:
    return s.encode('utf-8', 'surrogateescape')


def _raw_order(v):
    """Order of std::map<OpaqueValue> (memcmp of the raw key bytes)."""
    if isinstance(v, bool):
        return bytes([int(v)])
    if isinstance(v, int):
        return to_u64(v).to_bytes(8, 'little')
    if isinstance(v, Symbolic):
        return to_u64(v.numeric).to_bytes(8, 'little')
    if isinstance(v, str):
        return _str_bytes(v) + b'\0'
    if isinstance(v, bytes):
        return v
    if isinstance(v, (tuple, list)):
        return tuple(_raw_order(x) for x in v)
    if isinstance(v, Record):
        return tuple(_raw_order(x) for _, x in v.fields)
    return b''


def _key_fields(key: tuple) -> tuple:
    if len(key) == 1 and isinstance(key[0], tuple):
        return key[0]
    return key


def sort_by_key(entries: list) -> list:
    """types_format.cpp sort_by_key(): stable sorts per key field, last
    field first; integers compare as signed, strings bytewise, other field
    types leave the order alone."""
    if not entries or entries[0][0] is None:
        return list(entries)
    out = list(entries)
    first = _key_fields(entries[0][0])
    for i in reversed(range(len(first))):
        if _is_int(first[i]):
            out.sort(key=lambda e: to_s64(_int_of(_key_fields(e[0])[i])))
        elif isinstance(first[i], str):
            out.sort(key=lambda e: _str_bytes(_key_fields(e[0])[i]))
    return out


def _key_primitive(key):
    return key[0] if len(key) == 1 else tuple(key)


# --- per-aggregation output (lang/aggregations.py names these by key) --------

def _as_is(entries: list) -> list:
    return entries


@dataclass(frozen=True)
class Renderer:
    """How one aggregation's values print: ``show(value, div)`` is the output
    value of one entry for print(@m, top, div); ``zero()`` is what print()
    shows for an empty map without keys; ``prepare(entries)`` adjusts the
    sorted entries when a value's output depends on the whole map."""
    show: Callable
    zero: Callable = lambda: 0
    prepare: Callable = _as_is


def _show_stats(v: Stats, div: int) -> Record:
    return Record((('count', v.count), ('average', c_div(v.average, div)), ('total', v.total)))


RENDERERS = {
    'count': Renderer(lambda v, div: v // div),
    'int': Renderer(c_div),
    'avg': Renderer(lambda v, div: c_div(v.average, div)),
    'stats': Renderer(_show_stats, lambda: Record((('count', 0), ('average', 0), ('total', 0)))),
    'hist': Renderer(build_histogram, OrderedMap),  # an empty map prints nothing
    'lhist': Renderer(lambda h, div: build_linear_histogram(h), OrderedMap),  # div has no effect
    'tseries': Renderer(lambda s, div: build_time_series(s), OrderedMap, _tseries_window),  # div: no effect
}


def _sort_histograms(entries: list) -> list:
    entries = sorted(entries, key=lambda e: _raw_order(e[0]) if e[0] is not None else b'')
    return std_sort(entries, key=lambda e: sum(e[1].buckets.values()))


# What print() orders a map's entries by (bpftrace's std::sort, so ties keep
# libstdc++'s order).
SORT_KEYS = {
    'value': lambda entries: std_sort(entries, key=lambda e: _int_of(e[1])),
    'unsigned': lambda entries: std_sort(entries, key=lambda e: to_u64(e[1])),
    'average': lambda entries: std_sort(entries, key=lambda e: e[1].average),
    'buckets': _sort_histograms,  # total count; equal totals in key byte order
    'key': lambda entries: sorted(entries, key=lambda e: _raw_order(e[0]) if e[0] is not None else b''),
}


def _show_scalar(v, div: int):
    if isinstance(v, int) and not isinstance(v, bool):
        return c_div(v, div)
    return v


def _sort_scalar(entries: list) -> list:
    if entries and _is_int(entries[0][1]):
        return SORT_KEYS['value'](entries)
    return sort_by_key(entries)


def map_value(m: MapData, top: int = 0, div: int = 1, *, at_exit: bool = False):
    """The output::Value bpftrace builds for print(@m, top, div) (or for the
    end-of-run dump when ``at_exit``): a primitive, HistView, OrderedMap or
    StatsValue."""
    prepare = _as_is
    if m.kind == 'scalar':
        sort, show, zero, boxed = _sort_scalar, _show_scalar, lambda: m.zero, False
    elif m.kind in aggregations.AGGREGATIONS:
        agg = aggregations.AGGREGATIONS[m.kind]
        renderer = RENDERERS[agg.render]
        sort, show, zero, prepare = SORT_KEYS[agg.sort], renderer.show, renderer.zero, renderer.prepare
        boxed = agg.json_type == 'stats'
    else:
        raise ValueError(f"unknown map kind {m.kind!r}")
    div = div or 1
    top = top or 0
    entries = prepare(sort(list(m.entries)))
    total = len(entries)

    def skipped(i):
        return top and total > top and i < total - top

    def box(v):
        return StatsValue(v) if boxed else v

    out = OrderedMap()
    for i, (key, v) in enumerate(entries):
        if skipped(i):
            continue
        val = show(v, div)
        if m.is_scalar:
            return box(val)
        out.entries.append((_key_primitive(key), val))
    if not at_exit and m.is_scalar:
        # async_action.cpp print_map(): an empty scalar map prints its zero
        return box(zero())
    return box(out)
