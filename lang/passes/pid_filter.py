"""`-p PID`: probes that cannot filter by pid when they attach (their
provider declares `pid_predicate`) get the predicate `pid == PID` added in
front of their own, as bpftrace does."""

from __future__ import annotations

from pytrace.lang import ast
from pytrace.lang.context import CompileContext


def pid_filter(ctx: CompileContext) -> None:
    pid = ctx.options.pid_filter
    if pid is None:
        return
    for unit in ctx.units:
        if not unit.provider.pid_predicate:
            continue
        probe = unit.probe
        span = probe.attach_points[0].span
        check = ast.Binop("==", ast.Identifier("pid", span=span), ast.Integer(pid, str(pid), span=span), span=span)
        if probe.predicate is not None:
            check = ast.Binop("&&", check, probe.predicate, span=probe.predicate.span)
        probe.predicate = check
