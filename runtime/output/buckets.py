"""The numeric edges of hist() and lhist() buckets, for the outputs that want
numbers rather than bpftrace's labels (Prometheus `le` bounds, DataFrame
`low`/`high` columns).

A bucket is `[low, high)`: `low` is inclusive, `high` exclusive, and None is
an open end (hist's bucket 0 holds the negative values, lhist's first and
last buckets hold what is below min and above max). The bucket indices are the
ones the BPF program computes (values.hist_index / values.lhist_index).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytrace.runtime.output.values import Hist, LHist, hist_index, hist_index_label


@dataclass(frozen=True)
class Bucket:
    index: int
    low: int | None  # inclusive; None: unbounded below
    high: int | None  # exclusive; None: unbounded above
    count: int


def _hist_high(index: int, k: int) -> int:
    """The exclusive upper bound of hist bucket `index` (values.build_histogram's labels)."""
    if index <= (2 << k):
        return index
    return hist_index_label(index, k).numeric


def hist_edges(index: int, k: int) -> tuple[int | None, int | None]:
    if index == 0:
        return None, 0
    return _hist_high(index - 1, k), _hist_high(index, k)


def lhist_edges(index: int, h: LHist) -> tuple[int | None, int | None]:
    if index == 0:
        return None, h.min
    high = h.min + index * h.step
    return h.min + (index - 1) * h.step, (high if high <= h.max else None)


def last_index(h: Hist | LHist) -> int:
    """The index of the highest bucket the histogram can have."""
    if isinstance(h, Hist):
        return hist_index((1 << 63) - 1, h.k)
    return (h.max - h.min) // h.step + 1


def edges(h: Hist | LHist, index: int) -> tuple[int | None, int | None]:
    return hist_edges(index, h.k) if isinstance(h, Hist) else lhist_edges(index, h)


def buckets(h: Hist | LHist, first: int, last: int) -> list[Bucket]:
    """Buckets first..last (inclusive), counts 0 where nothing was recorded."""
    return [Bucket(i, *edges(h, i), h.buckets.get(i, 0)) for i in range(first, last + 1)]


def used_buckets(h: Hist | LHist) -> list[Bucket]:
    """The lowest to the highest bucket with a count, as print() shows them."""
    used = [i for i, c in h.buckets.items() if c]
    return buckets(h, min(used), max(used)) if used else []
