"""Bind each attach point to its provider and expand wildcards."""

from __future__ import annotations


from pytrace.lang import probes
from pytrace.lang.context import CompileContext, ProbeUnit
from pytrace.lang.probes.attach_params import expand_params
from pytrace.lang.probes.base import NoMatches, ProbeError, split_attach_point


def bind_probes(ctx: CompileContext) -> None:
    assert ctx.program is not None
    for index, probe in enumerate(ctx.program.probes):
        specs = []
        provider = None
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
            if provider is not None and prov.prog_type != provider.prog_type:
                ctx.diags.error(f"Attach points of one probe must share a program type: {prov.name} "
                                f"cannot be listed with {provider.name}", ap.span)
                continue
            provider = provider or prov
            try:
                expanded = prov.expand_with(ctx.kernel, parts, raw, ctx.options)
            except NoMatches as e:  # config missing_probes: error, warn or ignore
                if ctx.options.missing_probes == "warn":
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
            specs.extend(expanded)
        if provider is not None and specs:
            ctx.units.append(ProbeUnit(index, probe, provider, specs))
