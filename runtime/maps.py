"""Read maps out of the kernel and decode them into output values.

Keys and values are decoded from the layouts the compiler wrote into the
artifact; per-CPU aggregations are reduced here, in user space.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from pytrace.codegen.artifact import MapSpec
from pytrace.lang import aggregations
from pytrace.runtime import bpf, symbols, user_values
from pytrace.runtime.output.values import (Avg, Hist, LHist, MapData, Record, Stats, Symbolic, TSeries, c_div,
                                           to_s64, to_u64)


def _decode_int(data: bytes, size: int, signed: bool) -> int:
    return int.from_bytes(data[:size], "little", signed=signed)


def _decode_string(data: bytes) -> str:
    """A string value; one with no NUL filled its buffer, so was truncated:
    it gets bpftrace's trailer (config str_trunc_trailer, default "..").
    Bytes that are not UTF-8 survive as surrogate escapes and print as themselves."""
    end = data.find(b"\0")
    if end < 0:
        return data.decode("utf-8", "surrogateescape") + os.environ.get("BPFTRACE_STR_TRUNC_TRAILER", "..")
    return data[:end].decode("utf-8", "surrogateescape")


def _decode_field(f: dict, data: bytes):
    """A record member; a bitfield is (bit shift, bit count) within its bytes."""
    if "bitfield" not in f:
        return decode(f["layout"], data[f["offset"]:])
    shift, bits = f["bitfield"]
    raw = int.from_bytes(data[f["offset"]:f["offset"] + (shift + bits + 7) // 8], "little")
    return (raw >> shift) & ((1 << bits) - 1)  # never sign-extended, as in bpftrace


def decode(layout: dict, data: bytes):
    """A value of the given layout, as Python: int, str, bool or tuple."""
    kind = layout["kind"]
    if kind in symbols.DECODERS:  # stacks and symbols: symbolised text
        return symbols.DECODERS[kind](layout, data)
    if kind in user_values.DECODERS:  # usernames, timestamps, addresses, buffers
        return user_values.DECODERS[kind](layout, data)
    if kind == "int":
        n = _decode_int(data, layout["size"], layout["signed"])
        if "enum" in layout:  # an enum: its enumerator's name, when it has one
            name = next((e_name for v, e_name in layout["enum"] if v == n), None)
            return Symbolic(name, n, enum=True) if name is not None else n
        return n
    if kind == "bool":
        return data[0] != 0
    if kind == "none":  # bytes of no language value (a float): bpftrace's none, printed as null
        return None
    if kind == "string":
        return _decode_string(data[: layout["size"]])
    if kind == "pointer":  # printed as hex, as current bpftrace does (JSON keeps the number)
        n = _decode_int(data, 8, False)
        return Symbolic(f"0x{n:x}", n)
    if kind == "tuple":
        return tuple(decode(f["layout"], data[f["offset"]:]) for f in layout["fields"])
    if kind in aggregations.AGGREGATIONS:  # not per-CPU: the value of one CPU
        return REDUCERS[aggregations.AGGREGATIONS[kind].reduce]([data], layout.get("signed", False))
    if kind == "record":
        return Record(tuple((f["name"], _decode_field(f, data)) for f in layout["fields"]))
    if kind == "array":
        elem = layout["elem"]
        step = elem["size"]
        return [decode(elem, data[i * step:]) for i in range(layout["count"])]
    return data[: layout["size"]]


def _per_cpu(value: bytes, size: int) -> list[bytes]:
    stride = (size + 7) // 8 * 8
    return [value[i:i + stride] for i in range(0, len(value), stride)]


def _sum(slots: list[bytes], signed: bool) -> int:
    return sum(_decode_int(s, 8, signed) for s in slots)


def _extreme(pick):
    """min/max: the best value of the CPUs whose is-set slot is set (0 if none)."""
    def reduce(slots: list[bytes], signed: bool) -> int:
        values = [_decode_int(s, 8, True) for s in slots if _decode_int(s[8:], 8, False)]
        return pick(values) if values else 0
    return reduce


def _total_and_count(make):
    """avg/stats: the CPUs' totals (signed) and counts summed."""
    def reduce(slots: list[bytes], signed: bool):
        total = sum(_decode_int(s, 8, True) for s in slots)
        count = sum(_decode_int(s[8:], 8, False) for s in slots)
        return make(total, count)
    return reduce


@dataclass(frozen=True)
class TSeriesSlots:
    """One tseries() interval slot: each CPU's (value, meta, epoch), integers of
    the value's signedness; HISTOGRAMS["tseries"] combines them."""
    cpus: tuple
    signed: bool


def _tseries_slots(slots: list[bytes], signed: bool) -> TSeriesSlots:
    return TSeriesSlots(tuple((_decode_int(s, 8, signed), _decode_int(s[8:], 8, signed), _decode_int(s[16:], 8, False))
                              for s in slots), signed)


# How two CPUs' (value, meta) of one interval combine, by tseries()'s agg argument.
_TSERIES_COMBINE = {
    "": lambda cur, new: new if new[1] > cur[1] else cur,  # the value written last (meta: its time)
    "avg": lambda cur, new: (cur[0] + new[0], cur[1] + new[1]),  # totals and counts
    "max": lambda cur, new: (max(cur[0], new[0]), cur[1]),
    "min": lambda cur, new: (min(cur[0], new[0]), cur[1]),
    "sum": lambda cur, new: (cur[0] + new[0], cur[1]),
}


def reduce_tseries_slot(slot: TSeriesSlots, func: str) -> tuple[int, int]:
    """util::reduce_tseries_value: (epoch, value) of the newest epoch any CPU
    wrote to this slot, the CPUs of that epoch combined; (0, 0) if none did."""
    wrap = to_s64 if slot.signed else to_u64
    by_epoch: dict[int, tuple[int, int]] = {}
    for value, meta, epoch in slot.cpus:
        if epoch == 0:  # never written
            continue
        cur = by_epoch.get(epoch)
        by_epoch[epoch] = (value, meta) if cur is None else _TSERIES_COMBINE[func](cur, (value, meta))
    if not by_epoch:
        return 0, 0
    latest = max(by_epoch)
    value, meta = (wrap(x) for x in by_epoch[latest])
    if func == "avg":
        value = c_div(value, meta) if meta else 0
    return latest, wrap(value)


def _tseries(slots: dict, params) -> TSeries:
    """A tseries() entry from its interval slots and AggType params (interval_ns, num_intervals, agg)."""
    interval, count, func_code = params
    series = TSeries(interval, count)
    for slot in slots.values():
        series.signed = slot.signed
        epoch, value = reduce_tseries_slot(slot, aggregations.TSERIES_FUNCS[func_code])
        series.values.setdefault(epoch, value)
    return series


# How the per-CPU values of an aggregation combine (lang/aggregations.py `reduce`):
# each takes the CPUs' value slots and whether the value is signed.
REDUCERS = {
    "sum": _sum,
    "min": _extreme(min),
    "max": _extreme(max),
    "avg": _total_and_count(Avg),
    "stats": _total_and_count(lambda total, count: Stats(count, total)),
    "tseries": _tseries_slots,
}

# The histogram of a bucketed aggregation (lang/aggregations.py `buckets`),
# from its {bucket index: count} and its AggType params.
HISTOGRAMS = {
    "log2": lambda buckets, params: Hist(buckets, params[0] if params else 0),
    "linear": lambda buckets, params: LHist(*params, buckets),
    "tseries": _tseries,
}


def _reduce(spec: MapSpec, slots: list[bytes]):
    signed = (spec.value_layout or {}).get("signed", False)
    return REDUCERS[aggregations.AGGREGATIONS[spec.kind].reduce](slots, signed)


def value_size_in_kernel(spec: MapSpec) -> int:
    if spec.percpu:
        return (spec.value_size + 7) // 8 * 8 * bpf.possible_cpus()
    return spec.value_size


def read_map(spec: MapSpec, fd: int, keep_zero: bool = False) -> MapData:
    """The whole map as the output layer wants it. A keyless count kept in an array
    (codegen/map_types.py) whose count is 0 has no entry, as the hash it replaces
    would have none, unless `keep_zero` (zero(@m) was called: the hash kept its key)."""
    items = bpf.map_items(fd, spec.key_size, value_size_in_kernel(spec))
    scalar = spec.key_count == 0
    one_value_array = scalar and spec.map_type.endswith("array") and not keep_zero
    key_layout = spec.key_layout or {"kind": "tuple", "fields": []}
    fields = key_layout["fields"]
    agg = aggregations.get(spec.kind)
    entries: list = []
    grouped: dict = {}
    for kbytes, vbytes in items:
        key_values = decode(key_layout, kbytes)
        user_key = None if scalar else tuple(key_values[: spec.key_count])
        if spec.percpu:
            value = _reduce(spec, _per_cpu(vbytes, spec.value_size))
        else:
            value = decode(spec.value_layout or {"kind": "bytes", "size": spec.value_size}, vbytes)
        if one_value_array and value == 0:
            continue
        if agg is not None and agg.buckets:
            bucket = key_values[len(fields) - 1]
            grouped.setdefault(user_key, {})[bucket] = value
        else:
            entries.append((user_key, value))
    for user_key, buckets in grouped.items():
        entries.append((user_key, HISTOGRAMS[agg.buckets](buckets, spec.params)))
    # What print() shows for an empty scalar map: its type's zero value ("", (0, ), { .a = 0 }...).
    zero = decode(spec.value_layout, bytes(spec.value_size)) if spec.value_layout and agg is None else 0
    return MapData(spec.name, spec.kind, entries, scalar=scalar, zero=zero)


def zero_map(spec: MapSpec, fd: int) -> None:
    """zero(@m): keep every key, with a zero value."""
    size = value_size_in_kernel(spec)
    keys = [key for key, _ in bpf.map_items(fd, spec.key_size, size)]
    bpf.map_set_all(fd, keys, spec.key_size, bytes(size))


def read_lost(fd: int) -> int:
    """The per-CPU lost-events counter, summed."""
    value = bpf.map_lookup(fd, struct.pack("<I", 0), 8 * bpf.possible_cpus())
    if value is None:
        return 0
    return sum(struct.unpack_from("<Q", value, i)[0] for i in range(0, len(value), 8))
