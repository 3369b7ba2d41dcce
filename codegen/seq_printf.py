"""printf() in a probe whose provider writes to a seq_file (iter): one
bpf_seq_printf call into the iterator's output, as bpftrace lowers it.

The format goes to the kernel as written (it understands %d %u %x %s %c
%p... with l/ll modifiers); every argument is one u64 in an array on the
stack: an integer's value, or for a string (or any value kept in memory)
its address, which the kernel reads as a kernel string."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen.irbuilder import I64, PTR
from pytrace.lang import ast

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

I32 = ir.IntType(32)
SEQ_FILE_OFFSET = 0  # struct bpf_iter_meta { struct seq_file *seq; ... }: the context's first field points to it


def seq_file(pl: "ProbeLowering") -> ir.Value:
    """ctx->meta->seq, loaded directly so the verifier knows both pointers' BTF types."""
    meta = pl.b.load(pl.ctx_ptr, typ=PTR, name="iter_meta", align=8)
    return pl.b.load(meta, typ=PTR, name="iter_seq", align=8)


def lower_printf(pl: "ProbeLowering", call: ast.Call) -> ir.Value:
    fmt_text = call.args[0].value  # type: ignore[attr-defined]
    size = len(fmt_text.encode("utf-8", "surrogateescape")) + 1
    fmt = pl.const_string(fmt_text, size, "seq_fmt")
    values = [pl.expr(a) for a in call.args[1:]]
    data: ir.Value = ir.Constant(PTR, None)
    if values:
        data = pl.bb.alloca(8 * len(values), "seq_args")
        for i, value in enumerate(values):
            if isinstance(value.type, ir.PointerType):
                value = pl.b.ptrtoint(value, I64, name=f"seq_arg{i}")
            pl.bb.store(data, value, 8, 8 * i)
    pl.bb.helper("seq_printf", [seq_file(pl), fmt, I32(size), data, I32(8 * len(values))], I64, "seq_printf")
    return ir.Constant(I64, 0)
