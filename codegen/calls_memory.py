"""Lowerings of the pointer and memory builtins of lang/builtins_memory.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.codegen.calls import NONE, function
from pytrace.codegen.irbuilder import I64, PTR
from pytrace.lang import types as T
from pytrace.lang.builtins_memory import SKB_CAPTURE_BYTES

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering


@function("container_of")
def _container_of(pl: "ProbeLowering", call) -> object:
    ptr = pl.bb.to_i64(pl.expr(call.args[0]))
    return pl.b.sub(ptr, I64(call.const_value or 0), name="container_of")


@function("write_user")
def _write_user(pl, call):
    """bpf_probe_write_user(dst, src, len) == 0; src is written from the program's own copy of it."""
    dst, src, size = call.args
    value = pl.expr(src)
    if src.type.is_scalar or isinstance(src.type, T.BoolType):
        slot = pl.slot(T.U64, "write_user_src")
        pl.bb.store(slot, value)
        value = slot
    dst_ptr = pl.b.inttoptr(pl.bb.to_i64(pl.expr(dst)), PTR, name="write_user_dst")
    ret = pl.bb.probe_write_user(dst_ptr, value, pl.bb.to_i64(pl.expr(size)))
    return pl.bb.bool_i64(pl.b.icmp_signed("==", ret, I64(0), name="write_user_ok"))


EFAULT = 14


@function("skboutput")
def _skboutput(pl, call):
    """Read skb->data[offset:length] (at most SKB_CAPTURE_BYTES) and send it with the
    boot-time timestamp; user space appends it to the PCAP file. Like bpf_skb_output:
    -EFAULT when length is beyond the packet; nothing to send when offset >= length."""
    skb_t = call.arg_type
    skb = pl.bb.to_i64(pl.expr(call.args[1]))
    length = pl.bb.to_i64(pl.expr(call.args[2]))
    offset = pl.bb.to_i64(pl.expr(call.args[3]))
    fields = pl.slot(T.U64, "skb_field")
    pl.bb.probe_read(fields, 4, pl.b.add(skb, I64(skb_t.field("len").offset)), user=False)
    skb_len = pl.bb.load(fields, 4, False, name="skb_len")
    pl.bb.store(fields, I64(0))
    pl.bb.probe_read(fields, 8, pl.b.add(skb, I64(skb_t.field("data").offset)), user=False)
    data = pl.bb.load(fields, name="skb_data")
    result = pl.slot_uninit(T.U64, "skboutput")
    pl.bb.store(result, I64(-EFAULT & (2**64 - 1)))
    fits, done = pl.block("skb_fits"), pl.block("skb_done")
    pl.b.cbranch(pl.b.icmp_unsigned("<=", length, skb_len), fits, done)
    pl.b.position_at_end(fits)
    pl.bb.store(result, I64(0))
    send = pl.block("skb_send")
    pl.b.cbranch(pl.b.icmp_signed("<", offset, length), send, done)
    pl.b.position_at_end(send)
    count = pl.b.sub(length, offset, name="skb_count")
    count = pl.b.select(pl.b.icmp_unsigned(">", count, I64(SKB_CAPTURE_BYTES)), I64(SKB_CAPTURE_BYTES), count,
                        name="skb_captured")
    packet_t = T.BufferType(SKB_CAPTURE_BYTES)
    packet = pl.slot(packet_t, "skb_packet")
    pl.bb.store(packet, count, 4, 0)
    pl.bb.probe_read(pl.bb.gep(packet, 4), pl.b.and_(count, I64(2 * SKB_CAPTURE_BYTES - 1)),
                     pl.b.add(data, offset), user=False)
    event = pl.state.add_event("skboutput", "", [T.U64, packet_t])
    event.fmt = call.args[0].value
    pl.emit_event(event, [(pl.bb.ktime_get_boot_ns(), T.U64, T.U64), (packet, packet_t, packet_t)])
    pl.b.branch(done)
    pl.b.position_at_end(done)
    return pl.bb.load(result, name="skboutput_ret")


@function("unwatch")
def _unwatch(pl, call):
    """User space detaches the watchpoints on the address."""
    event = pl.state.add_event("unwatch", "", [T.U64])
    pl.emit_event(event, [(pl.bb.to_i64(pl.expr(call.args[0])), T.U64, T.U64)])
    return NONE


@function("typeof")
def _typeof(pl, call):
    return NONE  # only a type argument (reported by the type checker elsewhere)
