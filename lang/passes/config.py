"""Apply the script's `config = { ... }` block and check its map
declarations (`let @m = lruhash(100);`).

Config names may be written `max_strlen`, `MAX_STRLEN` or
`BPFTRACE_MAX_STRLEN`. An environment variable for the same setting wins
over the config block, as in bpftrace (runtime/driver.apply_env has already
applied it to the options).
"""

from __future__ import annotations

import os
import re

from pytrace.lang import ast
from pytrace.lang.context import CompileContext
from pytrace.lang.options import UNSTABLE_MODES
from pytrace.lang.passes.limits import MAX_STRLEN
from pytrace.lang.types import STACK_MODE_ERROR, STACK_MODES

ENV_PREFIX = "BPFTRACE_"

# Every config variable current bpftrace knows; those pytrace acts on map to
# an Options attribute, the others are accepted and have no effect here.
KNOWN = {
    "max_strlen": "max_strlen", "max_map_keys": "max_map_keys", "on_stack_limit": "on_stack_limit",
    "str_trunc_trailer": None, "max_cat_bytes": "max_cat_bytes", "cache_user_symbols": "cache_user_symbols",
    "cpp_demangle": None,
    "lazy_symbolication": None, "license": None, "log_size": "log_size", "max_bpf_progs": None,
    "max_probes": "max_probes", "perf_rb_pages": "perf_rb_pages", "stack_mode": "stack_mode",
    "missing_probes": "missing_probes", "print_maps_on_exit": "print_maps_on_exit", "use_blazesym": None,
    "show_debug_info": "show_debug_info", "unstable_tseries": "unstable_tseries", "unstable_dw_ustack": None,
    "unstable_import_statement": None, "unstable_typeinfo": None,
    "prometheus_labels": "prometheus_labels",  # pytrace's own: label names of map key parts
}
RENAMED = {"strlen": "max_strlen", "no_cpp_demangle": "cpp_demangle", "cat_bytes_max": "max_cat_bytes",
           "map_keys_max": "max_map_keys"}
ENV_ONLY = {"btf", "kernel_build", "kernel_source", "vmlinux"}  # bpftrace reads these from the environment only
BOOL_SETTINGS = {"print_maps_on_exit", "cpp_demangle", "lazy_symbolication", "use_blazesym", "show_debug_info"}
INTEGER_SETTINGS = {"max_strlen", "max_map_keys", "on_stack_limit", "max_cat_bytes", "log_size",
                    "max_bpf_progs", "max_probes", "perf_rb_pages"}

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")


def _label_names(assign: ast.ConfigAssign, ctx: CompileContext) -> list[str] | None:
    """prometheus_labels = "comm,pid": Prometheus label names, one per key part."""
    value = assign.value
    names = [n.strip() for n in value.value.split(",")] if isinstance(value, ast.String) else []
    if not names or not all(LABEL_NAME.match(n) and not n.startswith("__") and n != "le" for n in names):
        ctx.diags.error(f"{assign.name}: expects a string of comma-separated label names, e.g. \"comm,pid\"",
                        value.span)
        return None
    return names


# The licenses the kernel counts as GPL-compatible, in the order bpftrace lists them.
LICENSES = ("Dual MIT/GPL", "Dual BSD/GPL", "Dual MPL/GPL", "GPL and additional rights", "GPL v2", "GPL")


def _license(value: ast.Expr) -> str | None:
    found = value.name if isinstance(value, ast.Identifier) else value.value  # type: ignore[attr-defined]
    if found in LICENSES:
        return None
    return (f"Invalid value for license. Found: {found}. Valid values: {', '.join(LICENSES)}. Read more about "
            "BPF programs and licensing: https://docs.kernel.org/bpf/bpf_licensing.html"
            "#using-bpf-programs-in-the-linux-kernel")


VALIDATED = {"license": _license}  # settings with no effect here that bpftrace still checks

def cache_user_symbols(value: str | int) -> str | None:
    """bpftrace's cache_user_symbols parser: a mode, or "" for the default (1), or None: invalid."""
    word = str(value).lower()
    if word.isdigit():
        return "none" if int(word) == 0 else ""
    return {"per_pid": "per_pid", "per_program": "per_program", "none": "none"}.get(word)


CACHE_USER_SYMBOLS_ERROR = "Invalid value for cache_user_symbols: valid values are PER_PID, PER_PROGRAM, and NONE."


def _cache_user_symbols(assign: ast.ConfigAssign, ctx: CompileContext) -> str | None:
    value = assign.value
    text = value.value if isinstance(value, (ast.Integer, ast.String)) else \
        value.name if isinstance(value, ast.Identifier) else None
    mode = cache_user_symbols(text) if text is not None else None
    if mode is None:
        ctx.diags.error(f"{assign.name}: {CACHE_USER_SYMBOLS_ERROR}", value.span)
    return mode


PARSED_SETTINGS = {"prometheus_labels": _label_names,  # settings whose text is parsed here
                   "cache_user_symbols": _cache_user_symbols}

CHOICES = {"missing_probes": ("error", "warn", "ignore"),  # settings given as a word
           "stack_mode": STACK_MODES}
CHOICE_ERRORS = {"stack_mode": STACK_MODE_ERROR}

MAP_DECL_TYPES = {"hash": "hash", "lruhash": "lru_hash", "percpuhash": "percpu_hash",
                  "percpulruhash": "percpu_lru_hash"}


def _key(name: str) -> str:
    key = name.lower()
    return key[len(ENV_PREFIX):] if key.startswith(ENV_PREFIX.lower()) else key


def _apply(ctx: CompileContext, assign: ast.ConfigAssign) -> None:
    key = _key(assign.name)
    if key in RENAMED:
        ctx.diags.error(f"{assign.name}: key has been renamed to '{RENAMED[key]}'", assign.span)
        return
    if key in ENV_ONLY:
        ctx.diags.error(f"{assign.name}: can only be set as an environment variable", assign.span)
        return
    if key not in KNOWN:
        ctx.diags.error(f"{assign.name}: not a known configuration option", assign.span)
        return
    value = assign.value
    if key in INTEGER_SETTINGS and not isinstance(value, ast.Integer):
        ctx.diags.error(f"{assign.name}: expects an integer value", value.span)
        return
    problem = VALIDATED[key](value) if key in VALIDATED else None
    if problem:
        ctx.diags.error(problem, value.span)
        return
    attr = KNOWN[key]
    if attr is None or os.environ.get(ENV_PREFIX + key.upper()):
        return
    if key.startswith("unstable_"):
        _apply_unstable(ctx, assign, attr)
        return
    if key in BOOL_SETTINGS:
        _apply_bool(ctx, assign, attr)
        return
    if key in PARSED_SETTINGS:
        parsed = PARSED_SETTINGS[key](assign, ctx)
        if parsed is not None:
            setattr(ctx.options, attr, parsed)
        return
    if key in CHOICES:
        word = value.name if isinstance(value, ast.Identifier) else value.value if isinstance(value, ast.String) else None
        word = word.lower() if word else word
        if word not in CHOICES[key]:
            ctx.diags.error(f"{assign.name}: " + CHOICE_ERRORS.get(key, f"expects one of: {', '.join(CHOICES[key])}"),
                            value.span)
        else:
            setattr(ctx.options, attr, word)
        return
    if key == "max_strlen" and value.value < 1:  # type: ignore[attr-defined]
        ctx.diags.error(f"{assign.name}: must be at least 1", value.span)
        return
    if key == "max_strlen" and value.value > MAX_STRLEN:  # type: ignore[attr-defined]
        ctx.diags.error(f"{assign.name}: {value.value} is over the limit of {MAX_STRLEN} bytes",  # type: ignore[attr-defined]
                        value.span)
        return
    setattr(ctx.options, attr, value.value)  # type: ignore[attr-defined]


TRUTHY, FALSY = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _apply_bool(ctx: CompileContext, assign: ast.ConfigAssign, attr: str) -> None:
    """A true/false setting: an integer (non-zero is true), a boolean, or a word."""
    value = assign.value
    if isinstance(value, (ast.Integer, ast.Boolean)):
        setattr(ctx.options, attr, bool(value.value))
        return
    word = value.value if isinstance(value, ast.String) else value.name if isinstance(value, ast.Identifier) else ""
    if word.lower() in TRUTHY + FALSY:
        setattr(ctx.options, attr, word.lower() in TRUTHY)
    else:
        ctx.diags.error(f"{assign.name}: Invalid bool value: valid values are true, false, 1 or 0.", value.span)


def _apply_unstable(ctx: CompileContext, assign: ast.ConfigAssign, attr: str) -> None:
    value = assign.value
    if isinstance(value, ast.Integer):
        mode: str | None = "enable" if value.value else "error"
    elif isinstance(value, ast.Boolean):
        mode = "enable" if value.value else "error"
    elif isinstance(value, ast.String):
        mode = UNSTABLE_MODES.get(value.value.lower())
    else:
        mode = UNSTABLE_MODES.get(value.name.lower()) if isinstance(value, ast.Identifier) else None
    if mode is None:
        ctx.diags.error(f"{assign.name}: Invalid value for unstable config: valid values are enable, warn, "
                        "and error.", value.span)
        return
    setattr(ctx.options, attr, mode)


def apply_config(ctx: CompileContext) -> None:
    program = ctx.program
    if program is None:
        return
    if program.config is not None:
        for assign in program.config.assigns:
            _apply(ctx, assign)
    if ctx.options.max_strlen > MAX_STRLEN:  # from the environment (or an API caller's options)
        name = "BPFTRACE_MAX_STRLEN" if os.environ.get("BPFTRACE_MAX_STRLEN") else "max_strlen"
        ctx.diags.error(f"{name}: {ctx.options.max_strlen} is over the limit of {MAX_STRLEN} bytes")
    decls: dict[str, ast.MapDecl] = {}
    for decl in program.map_decls:
        if decl.kind not in MAP_DECL_TYPES:
            ctx.diags.error(f"Invalid bpf map type: {decl.kind}", decl.span,
                            ["Valid map types: " + ", ".join(MAP_DECL_TYPES)])
        elif decl.max_entries < 1:
            ctx.diags.error("expected positive integer for map declaration max entries", decl.span)
        elif decl.name in decls:
            ctx.diags.error(f"Map {decl.name} is already declared", decl.span)
        else:
            decls[decl.name] = decl
    ctx.map_decls = decls
