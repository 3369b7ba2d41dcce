"""Probes left without attach points, as the `missing_probes` config says.

bind_probes drops an attach point that matches nothing: one named exactly
is reported there (`No matches for tracepoint syscalls:nonsense.`), a
wildcard silently. A probe none of whose attach points is left is an
error ("error", the default), or is removed from the program with a
warning ("warn") or without one ("ignore"); bpftrace's words. A program
whose probes are all removed has nothing to attach (the front ends say
"No probes to attach")."""

from __future__ import annotations

from pytrace.lang.context import CompileContext

MISSING = "Probe has no valid attach points."


def prune_probes(ctx: CompileContext) -> None:
    assert ctx.program is not None
    bound = {unit.index for unit in ctx.units}
    mode = ctx.options.missing_probes
    kept = []
    for index, probe in enumerate(ctx.program.probes):
        if index in bound:
            kept.append(probe)
        elif mode == "error":
            ctx.diags.error(f"{MISSING} If this is expected, set the 'missing_probes' config variable to 'warn'.",
                            probe.span)
        elif mode == "warn":
            ctx.diags.warning(f"{MISSING} It is being removed which may cause issues with program behavior.",
                              probe.span)
    if mode != "error" and len(kept) != len(ctx.program.probes):
        ctx.program.probes[:] = kept
        position = {old: new for new, old in enumerate(sorted(bound))}
        for unit in ctx.units:
            unit.index = position[unit.index]
