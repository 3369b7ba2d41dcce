"""Reading an aggregation map in an expression: `if (@c > 10)`, `$x = @s + 1`,
`for ($kv : @c)`.

Aggregations live in per-CPU maps, so the value of `@m[k]` is every CPU's
copy combined, in the program, as bpftrace does (CreatePerCpuMapAggElems):

    for (cpu = 0; cpu < ncpus; cpu++) {
        v = bpf_map_lookup_percpu_elem(&m, &k, cpu);
        if (!v) break;              // no such key (or no such CPU)
        combine(acc, v);            // by the aggregation's `reduce` rule
    }
    result = finish(acc);

The rule is the one user space uses to print the map (lang/aggregations.py
`reduce`): sum and count add, min and max keep the best CPU value that was
set, avg adds totals and counts and divides. A missing key reads as 0.
"""

from __future__ import annotations

from pytrace.lang.records import record
from typing import TYPE_CHECKING, Callable

from llvmlite import ir

from pytrace.codegen.irbuilder import I64, PTR
from pytrace.lang import types as T
from pytrace.lang.context import MapInfo

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering


@record(frozen=True)
class Combine:
    """How one CPU's value slots fold into the accumulators (acc, extra), and
    the result from them; `signed` is the aggregation value's sign."""
    step: Callable[["ProbeLowering", ir.Value, ir.Value, ir.Value, bool], None]
    result: Callable[["ProbeLowering", ir.Value, ir.Value, bool], ir.Value]


def _add_step(pl: "ProbeLowering", cpu_value: ir.Value, acc: ir.Value, extra: ir.Value, signed: bool) -> None:
    pl.bb.store(acc, pl.b.add(pl.bb.load(acc), pl.bb.load(cpu_value), name="agg_sum"))


def _total_and_count_step(pl, cpu_value, acc, extra, signed):
    pl.bb.store(acc, pl.b.add(pl.bb.load(acc), pl.bb.load(cpu_value), name="agg_total"))
    pl.bb.store(extra, pl.b.add(pl.bb.load(extra), pl.bb.load(cpu_value, offset=8), name="agg_count"))


def _extreme_step(op: str):
    """min/max: a CPU whose is-set slot is 0 never saw a value; extra: acc is set."""
    def step(pl, cpu_value, acc, extra, signed):
        b = pl.b
        value, cur = pl.bb.load(cpu_value), pl.bb.load(acc)
        is_set = b.icmp_unsigned("!=", pl.bb.load(cpu_value, offset=8), I64(0), name="cpu_set")
        have = b.icmp_unsigned("!=", pl.bb.load(extra), I64(0), name="acc_set")
        better = (b.icmp_signed if signed else b.icmp_unsigned)(op, value, cur, name="better")
        take = b.and_(is_set, b.or_(b.not_(have), better), name="take")
        pl.bb.store(acc, b.select(take, value, cur))
        pl.bb.store(extra, b.select(take, I64(1), pl.bb.load(extra)))
    return step


def _acc(pl, acc, extra, signed):
    return pl.bb.load(acc)


def _average(pl, acc, extra, signed):
    total, count = pl.bb.load(acc), pl.bb.load(extra)
    if signed:
        return _signed_average(pl.b, total, count)
    return pl.b.udiv(total, count, name="average")


def _signed_average(b, total: ir.Value, count: ir.Value) -> ir.Value:
    """A signed total over a count, as bpftrace reads avg: the magnitude
    divided unsigned, then negated back (BPF before cpu v4 has no sdiv)."""
    negative = b.icmp_signed("<", total, I64(0), name="avg_negative")
    magnitude = b.select(negative, b.neg(total), total)
    quotient = b.udiv(magnitude, count, name="average")
    return b.select(negative, b.neg(quotient), quotient)


# By the aggregation's `reduce` key (lang/aggregations.py), for the readable kinds.
COMBINE = {
    "sum": Combine(_add_step, _acc),
    "min": Combine(_extreme_step("<"), _acc),
    "max": Combine(_extreme_step(">"), _acc),
    "avg": Combine(_total_and_count_step, _average),
}


def read_aggregation(pl: "ProbeLowering", info: MapInfo, key: ir.Value) -> ir.Value:
    """The value of the aggregation map `info` at `key` (a pointer to the BPF key), as an i64."""
    agg = info.aggregation
    assert agg is not None and agg.readable
    combine = COMBINE[agg.reduce]
    signed = info.value_type.signed  # type: ignore[attr-defined]
    name = info.name.lstrip("@") or "anon"
    acc, extra = pl.slot_uninit(T.U64, f"{name}_acc"), pl.slot_uninit(T.U64, f"{name}_extra")
    counter = pl.slot_uninit(T.U64, f"{name}_cpu")
    for slot in (acc, extra, counter):
        pl.bb.store(slot, I64(0))
    map_ptr = pl.map_ptr(info.name)

    def body(cpu: ir.Value, step: ir.Block, done: ir.Block) -> None:
        cpu_value = pl.bb.map_lookup_percpu_elem(map_ptr, key, cpu, name=f"{name}_on_cpu")
        found = pl.block(f"{name}_cpu_found")
        pl.b.cbranch(pl.b.icmp_unsigned("==", cpu_value, ir.Constant(PTR, None)), done, found)
        pl.b.position_at_end(found)
        combine.step(pl, cpu_value, acc, extra, signed)

    pl.counted_loop(counter, pl.bb.runtime_const("ncpus"), f"{name}_percpu", body)
    return combine.result(pl, acc, extra, signed)
