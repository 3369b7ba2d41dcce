"""The lowering of `@m[k] = tseries(n, interval_ns, num_intervals[, agg])`.

A time series keeps the last `num_intervals` intervals of `interval_ns`
nanoseconds. Time is wall-clock (TAI) nanoseconds, so user space can print
each interval's start: `epoch = now / interval_ns` numbers the interval, and
`epoch % num_intervals` is the map entry (the key's bucket field) holding it.
Each CPU's value is three u64 slots:

    value   the last n written, or the running avg total / max / min / sum
    meta    the time it was written (no agg), the count (avg), is-set (min/max)
    epoch   the interval the slot holds now

An entry still holding an older epoch is reset before `agg` combines into it;
user space (runtime/maps.py) keeps, per entry, the newest epoch over the CPUs.
This is bpftrace's codegen for tseries, with selects instead of branches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen.calls import aggregation
from pytrace.codegen.irbuilder import I64
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.aggregations import TSERIES_FUNCS

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

VALUE, META, EPOCH = 0, 8, 16  # slot offsets


def now_tai(pl: "ProbeLowering", span) -> ir.Value:
    """bpftrace's sw_tai clock: boot time plus (TAI - boot) taken at start-up.

    With BPFTRACE_DUMMY_TS_MAP=@ts (bpftrace's test hook) the clock is the
    value of the scalar map @ts instead, so tests control time."""
    name = pl.state.ctx.options.dummy_ts_map
    info = pl.state.ctx.maps.get(name)
    if info is not None and not info.key_types and isinstance(info.value_type, T.IntType):
        return pl.map_read(ast.Map(name, [], span=span))
    return pl.b.add(pl.bb.ktime_get_boot_ns(), pl.bb.runtime_const("tai_delta"), name="now_tai")


def _combine(pl: "ProbeLowering", func: str, signed: bool, n: ir.Value, now: ir.Value,
             value: ir.Value, meta: ir.Value) -> tuple[ir.Value, ir.Value]:
    """The slots (value, meta) after writing n into an interval holding (value, meta)."""
    b = pl.b
    if func == "":
        return n, now
    if func == "sum":
        return b.add(value, n, name="ts_sum"), meta
    if func == "avg":
        return b.add(value, n, name="ts_total"), b.add(meta, I64(1), name="ts_count")
    cmp = b.icmp_signed if signed else b.icmp_unsigned
    better = cmp("<" if func == "min" else ">", n, value, name=f"ts_{func}")
    take = b.or_(b.icmp_unsigned("==", meta, I64(0)), better)
    return b.select(take, n, value, name=f"ts_{func}_value"), I64(1)


@aggregation("tseries")
def lower_tseries(pl: "ProbeLowering", target: ast.Map, call: ast.Call) -> None:
    interval, count, func_code = call.type.params
    func = TSERIES_FUNCS[func_code]
    signed = T.is_signed(call.args[0].type)
    n = pl.expr(call.args[0])
    now = now_tai(pl, call.span)
    epoch = pl.b.udiv(now, I64(interval), name="epoch")
    slot = pl.b.urem(epoch, I64(count), name="interval_slot")

    def update(ptr: ir.Value) -> None:
        value, meta = pl.bb.load(ptr, offset=VALUE), pl.bb.load(ptr, offset=META)
        if func:  # an aggregating series restarts an interval slot that held an older epoch
            stale = pl.b.icmp_unsigned("!=", pl.bb.load(ptr, offset=EPOCH), epoch, name="new_epoch")
            value = pl.b.select(stale, I64(0), value)
            meta = pl.b.select(stale, I64(0), meta)
        write(ptr, value, meta)

    def write(ptr: ir.Value, value: ir.Value, meta: ir.Value) -> None:
        value, meta = _combine(pl, func, signed, n, now, value, meta)
        pl.bb.store(ptr, value, offset=VALUE)
        pl.bb.store(ptr, meta, offset=META)
        pl.bb.store(ptr, epoch, offset=EPOCH)

    pl.map_update_in_place(target, pl.map_key(target, slot), update, lambda buf: write(buf, I64(0), I64(0)))
