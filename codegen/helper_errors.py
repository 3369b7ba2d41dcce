"""Helper errors at run time, checked as bpftrace checks them (CreateHelperErrorCond).

A checked helper that returns a negative error sends a `helper_error` event: user space
prints bpftrace's warning at the expression (text) or its `helper_error` record (JSON),
both made from the helper's name, the return code and the place. Which helpers are
checked depends on the warning level, as in bpftrace: by default those whose failure
would otherwise go unnoticed; with -k also the memory reads, whose failure leaves a 0
the script may read (and map lookups of a missing key: `report`).

Every helper call goes through BpfBuilder.helper(), which calls `check` for a helper
named here (ProbeLowering installs it on each of its builders).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen.artifact import EventSpec
from pytrace.codegen.irbuilder import I32, I64
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.options import Options

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

# Checked at bpftrace's default warning level (1).
CHECKED = frozenset({"d_path", "send_signal", "send_signal_thread", "get_ns_current_pid_tgid"})
# Checked only with -k (level 2): bpftrace's return_zero_if_err helpers.
CHECKED_WITH_K = frozenset({"probe_read_user", "probe_read_kernel", "probe_read_user_str", "probe_read_kernel_str",
                            "probe_read_str"})


def checked_helpers(options: Options) -> frozenset[str]:
    return CHECKED | CHECKED_WITH_K if options.helper_warnings else CHECKED


def install(pl: "ProbeLowering") -> None:
    """Check the helpers of pl's current builder (the probe's, or a loop callback's)."""
    pl.bb.checked_helpers = checked_helpers(pl.state.ctx.options)
    pl.bb.on_helper_result = lambda name, ret: check(pl, name, ret)


def check(pl: "ProbeLowering", helper: str, ret: ir.Value) -> None:
    """After `ret = helper(...)`: a negative (32-bit) return sends the helper's error event."""
    node = pl.at
    if node is None:
        return
    ret32 = pl.b.trunc(ret, I32) if ret.type != I32 else ret
    failed, ok, done = pl.if_else(pl.b.icmp_signed("<", ret32, I32(0), name=f"{helper}_failed"), "helper_error")
    pl.b.position_at_end(failed)
    pl.emit_event(error_event(pl, helper, node), [(pl.b.sext(ret32, I64), T.S64, T.S64)])
    pl.b.branch(done)
    pl.b.position_at_end(ok)
    pl.b.branch(done)
    pl.b.position_at_end(done)


def report(pl: "ProbeLowering", helper: str, node: ast.Node, retcode: int = 0) -> None:
    """Send the helper's error event unconditionally (the caller branched on the failure)."""
    pl.emit_event(error_event(pl, helper, node), [(I64(retcode), T.S64, T.S64)])


def error_event(pl: "ProbeLowering", helper: str, node: ast.Node) -> EventSpec:
    """One event per checked call: the helper's name, and where it is as user space prints it."""
    ev = pl.state.add_event("helper_error", arg_types=[T.S64])
    ev.fmt = helper
    span = node.span
    line, column = span.begin_pos
    ev.source = {"label": span.location(), "filename": span.source.name, "line": line, "column": column,
                 "context": "\n".join(span.context())}
    return ev
