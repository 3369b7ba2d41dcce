"""Lowerings of the checks, messages and settings of lang/builtins_checks.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.codegen.calls import NONE, function
from pytrace.codegen.irbuilder import I64
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.builtins_checks import ASSERT_EXIT_CODE, ASSERT_LOCATION, NO_CHILD_LOCATION, NO_CHILD_WARNING
from pytrace.lang.source import Span

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering


def message_source(span: Span, expanded_from: list[Span] | None, stdlib_at: str = "") -> dict:
    """Where an errorf()/warnf() is, as user space prints it (artifact EventSpec.source).
    stdlib_at: the place of a message of bpftrace's standard library ("FILE:LINE:COL-COL")
    instead of `span`, which is then the first call it was expanded from."""
    line, column = span.begin_pos
    source = {"label": span.location(), "filename": span.source.name, "line": line, "column": column}
    if stdlib_at:
        filename, line, columns = stdlib_at.split(":")
        source = {"label": stdlib_at, "filename": filename, "line": int(line), "column": int(columns.split("-")[0])}
        expanded_from = [span, *(expanded_from or [])]
    source["expanded_from"] = [(s.location(), "\n".join(s.context())) for s in expanded_from or []]
    return source


def _send_message(pl: "ProbeLowering", call: ast.Call, source: dict, args: list[ast.Expr]) -> None:
    event = pl.state.events[call.format.id]
    event.source = source
    values = [(pl.expr(a), a.type, t) for a, t in zip(args, call.format.arg_types)]
    pl.emit_event(event, values)


def warn_if_no_child(pl: "ProbeLowering", node: ast.Builtin, cpid) -> None:
    """cpid without -c: bpftrace's cpid() macro warns (at its warnf in
    stdlib/base.bt, expanded from the use) and the value is 0."""
    zero = pl.b.icmp_unsigned("==", cpid, I64(0), name="no_child")
    warn, done = pl.block("cpid_warn"), pl.block("cpid_done")
    pl.b.cbranch(zero, warn, done)
    pl.b.position_at_end(warn)
    event = pl.state.add_event("warnf")
    event.fmt = NO_CHILD_WARNING
    event.source = message_source(node.span, None, NO_CHILD_LOCATION)
    pl.emit_event(event, [])
    pl.b.branch(done)
    pl.b.position_at_end(done)


@function("errorf")
def _errorf(pl, call):
    _send_message(pl, call, message_source(call.span, call.expanded_from), call.args[1:])
    return NONE


function("warnf")(_errorf)


@function("debugf")
def _debugf(pl, call):
    """bpf_trace_printk: the format from the stack, integers as 64-bit values, strings by address."""
    fmt = call.args[0].value
    size = len(fmt.encode("utf-8", "surrogateescape")) + 1
    fmt_ptr = pl.const_string(fmt, size, "debugf_fmt")
    args = []
    for a in call.args[1:]:
        value = pl.expr(a)
        args.append(value if isinstance(a.type, T.StringType) else pl.bb.to_i64(value, T.is_signed(a.type)))
    pl.bb.trace_printk(fmt_ptr, size, args)
    return NONE


@function("assert")
def _assert(pl, call):
    """When the condition is false: the error "assert failed: MSG" (at bpftrace's
    place for it in its standard library, expanded from this call), then exit(1)."""
    cond = pl.truth(pl.expr(call.args[0]), call.args[0].type)
    failed, ok = pl.block("assert_failed"), pl.block("assert_ok")
    pl.b.cbranch(cond, ok, failed)
    pl.b.position_at_end(failed)
    _send_message(pl, call, message_source(call.span, call.expanded_from, ASSERT_LOCATION), [call.args[1]])
    exit_event = pl.state.add_event("exit", "", [T.S64])
    pl.emit_event(exit_event, [(I64(ASSERT_EXIT_CODE), T.S64, T.S64)])
    pl.b.ret(I64(0))
    pl.b.position_at_end(ok)
    return NONE


def _compile_time(pl, call):
    return NONE  # fail(), static_assert() and assert_str() only act when compiling


for _name in ("fail", "static_assert", "assert_str", "config"):
    function(_name)(_compile_time)


@function("getopt")
def _getopt(pl, call):
    if call.expansion is not None:  # a string option
        return pl.expr(call.expansion)
    return I64(call.const_value or 0)

