"""The text plot of a tseries() value, byte for byte as bpftrace draws it
(src/output/text.cpp, TextEmitter<Value::TimeSeries>):

                 0                                                   5
    hh:mm:ss.ms  |___________________________________________________|
    10:41:46.700 *                         .                         | -5
    10:41:46.800 |                                                   * 5
    10:41:46.900 |                                                   | -
                 v___________________________________________________v
                 0                                                   5

One line per interval: its local start time (to the unit of the interval),
the point between the smallest and largest value (a '.' column marks 0 when
the range spans it), the value ('-' for an interval without one). Positions
are computed in C float, as bpftrace does.
"""

from __future__ import annotations

import struct
import time

from .values import TimeSeriesView, to_s64

GRAPH_WIDTH = 53
PADDING = 21  # the minimum's column in the header and footer
NS = {"s": 10**9, "ms": 10**6, "us": 10**3}  # util::duration_str: the largest unit <= the interval
UNIT_NAMES = {"s": "s", "ms": "ms", "us": "\u03bcs", "ns": "ns"}
UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}  # util::DisplayUnit


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _scaled(width: int, part: int, whole: int) -> int:
    """static_cast<float>(width) * static_cast<float>(part) / static_cast<float>(whole), truncated."""
    return int(_f32(_f32(_f32(float(width)) * _f32(float(part))) / _f32(float(whole))))


def _distance(a, b) -> int:
    """distance(): a - b as int64; 0 when either side has no value."""
    if a is None or b is None:
        return 0
    return to_s64(a - to_s64(b))


def _unit(interval_ns: int) -> str:
    return next((u for u, ns in NS.items() if interval_ns >= ns), "ns")


def _time(ns: int, unit: str) -> str:
    """A time point as local hh:mm:ss plus the fraction of its unit."""
    seconds, frac = divmod(ns, 10**9)
    text = time.strftime("%H:%M:%S", time.localtime(seconds))
    digits = UNIT_DIGITS[unit]
    return f"{text}.{frac // 10 ** (9 - digits):0{digits}d}" if digits else text


def _bounds(view: TimeSeriesView) -> tuple:
    """The smallest and largest value, widened by one each when they are equal
    (within the value type's range)."""
    lo = hi = view.points[0][1]
    for _, v in view.points:
        if v is None:
            continue
        if lo is not None and v < lo:
            lo = v
        if hi is None or v > hi:
            hi = v
    if lo == hi and lo is not None:
        lowest, highest = (-(1 << 63), (1 << 63) - 1) if view.signed else (0, (1 << 64) - 1)
        lo, hi = (lo - 1 if lo > lowest else lo), (hi + 1 if hi < highest else hi)
    return lo, hi


def _num(v) -> str:
    return "null" if v is None else str(v)


def format_tseries(view: TimeSeriesView) -> str:
    """The plot, each line ending in a newline; "<no data>" (no newline) when empty."""
    if not view.points:
        return "<no data>"
    lo, hi = _bounds(view)
    first, last = view.points[0][0], view.points[-1][0]
    unit = _unit((last - first) // max(len(view.points) - 1, 1))
    time_fmt = "hh:mm:ss" + (f".{UNIT_NAMES[unit]}" if unit != "s" else "")
    time_size = 8 + (1 + UNIT_DIGITS[unit] if unit != "s" else 0)
    pad = " " * (time_size + 1)
    scale = f"{pad}{_num(lo):<{PADDING}}{_num(hi):>{GRAPH_WIDTH - PADDING}}\n"
    fmt_pad = " " * max(time_size + 1 - len(time_fmt.encode()), 0)
    out = [scale, f"{time_fmt}{fmt_pad}|{'_' * (GRAPH_WIDTH - 2)}|\n"]
    zero = 0
    if _distance(lo, 0) < 0 and _distance(0, hi) < 0:
        zero = _scaled(GRAPH_WIDTH, _distance(lo, 0), _distance(lo, hi))
    for ns, v in view.points:
        line = [" "] * GRAPH_WIDTH
        line[0] = line[-1] = "|"
        if zero > 0:
            line[zero] = "."
        if v is None:
            out.append(f"{_time(ns, unit)} {''.join(line)} -\n")
            continue
        point = GRAPH_WIDTH // 2
        if lo != hi:
            point = _scaled(GRAPH_WIDTH - 1, _distance(lo, v), _distance(lo, hi))
        line[max(0, min(GRAPH_WIDTH - 1, point))] = "*"
        out.append(f"{_time(ns, unit)} {''.join(line)} {v}\n")
    out.append(f"{pad}v{'_' * (GRAPH_WIDTH - 2)}v\n")
    out.append(scale)
    return "".join(out)
