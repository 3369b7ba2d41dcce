"""The compiler's passes, in the one order they run.

Each pass is a function over the CompileContext. A pass that finds user
mistakes records diagnostics; the pipeline stops after the first pass that
recorded an error, so later passes may assume a well-formed program.
"""

from __future__ import annotations

from typing import Callable

from pytrace.lang.context import CompileContext, Options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes.bind_probes import bind_probes
from pytrace.lang.imports import resolve_imports
from pytrace.lang.passes.c_macros import expand_c_macros
from pytrace.lang.passes.config import apply_config
from pytrace.lang.passes.fold_literals import fold_literals
from pytrace.lang.passes.macros import expand_macros
from pytrace.lang.passes.missing_probes import prune_probes
from pytrace.lang.passes.limits import check_limits, check_probe_count
from pytrace.lang.passes.legacy_scopes import hoist_probe_variables
from pytrace.lang.passes.pid_filter import pid_filter
from pytrace.lang.passes.program_settings import program_settings
from pytrace.lang.passes.reachability import check_reachability
from pytrace.lang.passes.resolve import resolve
from pytrace.lang.passes.typecheck import typecheck
from pytrace.lang.source import Source


def parse(ctx: CompileContext) -> None:
    from pytrace.lang.parser import parse as parse_source

    ctx.program = parse_source(ctx.source, ctx.diags)


PIPELINE: list[tuple[str, Callable[[CompileContext], None]]] = [
    ("parse", parse),
    ("imports", resolve_imports),
    ("limits", check_limits),
    ("config", apply_config),
    ("macros", expand_macros),
    ("c_macros", expand_c_macros),
    ("program_settings", program_settings),
    ("fold_literals", fold_literals),
    ("bind_probes", bind_probes),
    ("missing_probes", prune_probes),
    ("probe_count", check_probe_count),
    ("pid_filter", pid_filter),
    ("resolve", resolve),
    ("legacy_scopes", hoist_probe_variables),
    ("reachability", check_reachability),
    ("typecheck", typecheck),
]


def analyse(source: Source, options: Options | None = None, until: str | None = None) -> CompileContext:
    """Run the passes over a source; raise CompileError on user mistakes."""
    ctx = CompileContext(source, options)
    for name, run in PIPELINE:
        run(ctx)
        if ctx.diags.has_errors():
            raise CompileError(ctx.diags)
        if name == until:
            break
    return ctx
