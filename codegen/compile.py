"""Typed program -> Artifact: lower every probe, compile, package."""

from __future__ import annotations

import re

from llvmlite import ir

from pytrace.codegen import emit
from pytrace.codegen.artifact import Artifact, ProgramSpec
from pytrace.codegen.lower import ProbeLowering
from pytrace.codegen.state import ModuleState
from pytrace.lang import ast, builtins, probes
from pytrace.lang.context import CompileContext, ProbeUnit
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.visitor import walk



def _calls(unit: ProbeUnit) -> set[str]:
    return {n.name for n in walk(unit.probe) if isinstance(n, ast.Call)}


def _needs_one_program_per_spec(unit: ProbeUnit) -> bool:
    if unit.provider.program_per_attach_point:
        return True
    calls = _calls(unit)
    if any(unit.provider.load_as(s, calls)[0] != unit.provider.prog_type for s in unit.specs):
        return True  # loaded for its own attach point (rawtracepoint as tp_btf)
    return len(unit.specs) > 1 and any(
        isinstance(n, ast.Builtin) and builtins.per_attach_point(n.name)
        or isinstance(n, ast.Call) and builtins.call_per_attach_point(n.name)
        for n in walk(unit.probe))


def _by_provider(specs: list) -> list[list]:
    """A probe's attach points split by provider, in order: `begin,end { }`
    is two programs, one run at BEGIN and one at END."""
    groups: dict[str, list] = {}
    for spec in specs:
        groups.setdefault(spec.provider, []).append(spec)
    return list(groups.values())


def _func_name(index: int, probe_name: str) -> str:
    return f"p{index}_" + re.sub(r"[^A-Za-z0-9_]", "_", probe_name)[:48]


def _backend_diagnostic(ctx: CompileContext, error: emit.BackendError,
                        planned: list[tuple[str, ProbeUnit, list]]) -> CompileError:
    """LLVM refused the module: an error at the probe it was compiling."""
    unit = next((u for name, u, _ in planned if name == error.function), None)
    span = unit.probe.attach_points[0].span if unit is not None else None
    ctx.diags.error(f"the BPF backend cannot compile this probe: {error.message}", span,
                    hints=["simplify the probe: smaller strings, tuples or stacks held in variables, "
                           "fewer nested loops"])
    return CompileError(ctx.diags)


def generate(ctx: CompileContext, debug: dict | None = None) -> Artifact:
    module = ir.Module(name=ctx.source.name)
    module.triple = emit.TRIPLE
    state = ModuleState(ctx, module)
    planned: list[tuple[str, ProbeUnit, list]] = []
    count = 0
    shared: set[str] = set()  # programs serving several attach points of a probe (provider.load_shared)
    for unit in ctx.units:
        per_spec = _needs_one_program_per_spec(unit)
        groups = [g for specs in _by_provider(unit.specs) for g in ([[s] for s in specs] if per_spec else [specs])]
        for specs in groups:
            name = _func_name(count, specs[0].name)
            count += 1
            ProbeLowering(state, unit, specs[0], name).lower()
            planned.append((name, unit, specs))
            if not per_spec:
                shared.add(name)
    ir_text = str(module)
    if debug is not None:
        debug["ir_unoptimised"] = ir_text
    try:
        sections = emit.compile_ir(ir_text, debug)
    except emit.BackendError as e:
        raise _backend_diagnostic(ctx, e, planned) from None
    art = Artifact(maps=state.maps, events=state.events, source_name=ctx.source.name,
                   ringbuf_map=state.ringbuf, lost_map=state.lost, kernel_vars=state.kernel_vars,
                   print_maps_on_exit=ctx.options.print_maps_on_exit,
                   max_cat_bytes=ctx.options.max_cat_bytes, prometheus_labels=ctx.options.prometheus_labels,
                   symbols={"show_debug_info": ctx.options.show_debug_info,
                            "cache_user_symbols": ctx.options.cache_user_symbols
                            or ("per_program" if ctx.options.has_child else "")},
                   log_size=ctx.options.log_size)
    for name, unit, specs in planned:
        provider = probes.lookup(specs[0].provider) or unit.provider
        ap_span = unit.probe.attach_points[0].span
        calls = _calls(unit)
        if name in shared:
            prog_type, attach = provider.load_shared(specs, calls)
        else:  # its own attach point
            prog_type, one = provider.load_as(specs[0], calls)
            attach = [one]
        art.programs.append(ProgramSpec(
            name=name, probe=specs[0].name, provider=provider.name, prog_type=prog_type,
            insns=sections[name], attach=attach,
            location=ap_span.location() if ap_span is not None else "",
            span=[ap_span.start, ap_span.end] if ap_span is not None else None,
            unavailable=provider.unavailable_reason(), hint=provider.alternative_hint(specs[0]),
            when=specs[0].attach.get("when", provider.runs_at), warn_never_fired=provider.warn_never_fired,
            fires_newest_first=provider.fires_newest_first))
    return art
