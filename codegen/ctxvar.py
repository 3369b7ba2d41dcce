"""Lower a provider variable described as data (lang/probes/base.ContextVar):
a context load, a constant, or user memory at a saved register + offset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen.irbuilder import I64
from pytrace.lang import types as T
from pytrace.lang.probes.base import ContextVar

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering


def _extend(pl: "ProbeLowering", value: ir.Value, size: int, signed: bool) -> ir.Value:
    """The low `size` bytes of an i64, extended back to 64 bits."""
    if size >= 8:
        return value
    bits = 64 - 8 * size
    shifted = pl.b.shl(value, I64(bits))
    return pl.b.ashr(shifted, I64(bits)) if signed else pl.b.lshr(shifted, I64(bits))


def load_context_var(pl: "ProbeLowering", cv: ContextVar, name: str) -> ir.Value:
    if cv.whole_context:
        return pl.ctx_ptr
    if cv.const is not None:
        if isinstance(cv.const, str):
            return pl.const_string(cv.const, cv.type.size, name)
        return I64(cv.const & (2**64 - 1))
    if cv.deref is None:
        return pl.bb.load(pl.ctx_ptr, cv.size, cv.is_signed, cv.offset, name=name)
    base = pl.bb.load(pl.ctx_ptr, 8, False, cv.offset, name=name + "_base")
    addr = pl.b.add(base, I64(cv.deref & (2**64 - 1)))
    slot = pl.slot(T.U64, name + "_mem")
    pl.bb.probe_read(slot, cv.size, addr, user=True)
    return _extend(pl, pl.bb.load(slot, 8, False), cv.size, cv.is_signed)
