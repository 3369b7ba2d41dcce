"""Lowerings of the pointer and memory builtins of lang/builtins_memory.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.codegen.calls import NONE, function
from pytrace.codegen.irbuilder import I64, PTR
from pytrace.lang import types as T

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


@function("unwatch")
def _unwatch(pl, call):
    """User space detaches the watchpoints on the address."""
    event = pl.state.add_event("unwatch", "", [T.U64])
    pl.emit_event(event, [(pl.bb.to_i64(pl.expr(call.args[0])), T.U64, T.U64)])
    return NONE


@function("typeof")
def _typeof(pl, call):
    return NONE  # only a type argument (reported by the type checker elsewhere)
