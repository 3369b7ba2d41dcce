"""Bind each attach point to its provider and expand wildcards.

A probe whose attach points belong to several probe types (`kprobe:f,
tracepoint:a:b { }`) becomes one unit per probe type, in the order they are
first listed, as bpftrace allows: each unit has its own copy of the
predicate and the body, so each is resolved, typed and compiled for its own
provider (its own program type, variables and pid filter)."""

from __future__ import annotations

import copy

from pytrace.lang import ast, probes
from pytrace.lang.context import CompileContext, ProbeUnit
from pytrace.lang.probes.attach_params import expand_params
from pytrace.lang.probes.base import NoMatches, ProbeError, ProbeProvider, ProbeSpec, split_attach_point
from pytrace.lang.visitor import walk


def bind_probes(ctx: CompileContext) -> None:
    assert ctx.program is not None
    for index, probe in enumerate(ctx.program.probes):
        groups: dict[int, tuple[ProbeProvider, list[ProbeSpec]]] = {}  # id(provider) -> its specs
        for ap in probe.attach_points:
            try:
                raw = expand_params(ap.raw, ctx.options.params)
            except ProbeError as e:
                ctx.diags.error(str(e), ap.span, e.hints)
                continue
            name, parts = split_attach_point(raw)
            prov = probes.lookup(name)
            if prov is None:
                import difflib  # only for this error (start-up time)

                close = difflib.get_close_matches(name, probes.all_names(), n=1)
                ctx.diags.error(f"Invalid probe type: {name}", ap.span,
                                [f"Did you mean {close[0]}?"] if close else [])
                continue
            if prov.single_attach_point and id(prov) in groups:
                ctx.diags.error(f"{prov.name} probe only supports one attach point.", ap.span)
                continue
            group = groups.setdefault(id(prov), (prov, []))[1]
            try:
                expanded = prov.expand_with(ctx.kernel, parts, raw, ctx.options)
            except NoMatches as e:  # config missing_probes: error, warn or ignore
                if e.wildcard:
                    pass  # dropped without a word (a probe left empty: the missing_probes pass)
                elif ctx.options.missing_probes == "warn":
                    ctx.diags.warning(f"No matches for {e.what}. Skipping.", ap.span)
                elif ctx.options.missing_probes == "error":
                    ctx.diags.error(str(e), ap.span, e.hints)
                continue
            except ProbeError as e:
                ctx.diags.error(str(e), ap.span, e.hints)
                continue
            for spec in expanded:
                spec.kernel = ctx.kernel
            ap.provider, ap.params = prov, expanded
            group.extend(expanded)
        bound = [(provider, specs) for provider, specs in groups.values() if specs]
        for n, (provider, specs) in enumerate(bound):
            ctx.units.append(ProbeUnit(index, probe if n == 0 else _copy_body(probe, provider), provider, specs))


def _copy_body(probe: ast.Probe, provider: ProbeProvider) -> ast.Probe:
    """The probe for another of its probe types: its attach points of that type,
    a copy of its predicate and body (the sources the spans point to are shared)."""
    memo = {id(n.span.source): n.span.source for n in walk(probe) if n.span is not None}
    if probe.span is not None:
        memo[id(probe.span.source)] = probe.span.source
    return ast.Probe([ap for ap in probe.attach_points if ap.provider is provider],
                     copy.deepcopy(probe.predicate, memo), copy.deepcopy(probe.block, memo), span=probe.span)
