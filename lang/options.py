"""Compile options (kept free of heavy imports: the CLI needs them before
it knows whether it must compile at all)."""

from __future__ import annotations

# Settings of unstable features (config unstable_tseries, ...): enable, warn
# (the default) or error; true/false also work.
UNSTABLE_MODES = {"enable": "enable", "true": "enable", "warn": "warn", "error": "error", "false": "error"}


class Options:
    """Compile options. A plain class rather than a dataclass: the CLI imports it at every start,
    and importing `dataclasses` (which imports `inspect`) costs ~10 ms of a cached program's start.
    Options(name=value, ...) sets any option declared below; the lists start empty."""

    params: list[str]  # positional parameters $1..$N
    named_params: list[str]  # program options after `--`: "name=value", "name"
    import_paths: list[str]  # where `import "x"` looks after the script's directory
    max_strlen: int = 1024
    max_map_keys: int = 4096
    max_probes: int = 1024  # attach points after wildcards are expanded (lang/passes/limits.py)
    unsafe: bool = False
    has_child: bool = False  # -c given, so cpid is meaningful
    pid_filter: int | None = None  # -p PID
    debuginfo: tuple[str, ...] = ()  # --debuginfo DIRs: where separate DWARF of uprobe targets is searched
    missing_probes: str = "error"  # an attach point matching nothing: "error", "warn" (and skip) or "ignore"
    unstable_tseries: str = "warn"  # config unstable_tseries: "enable", "warn" or "error"
    stack_mode: str = "bpftrace"  # config stack_mode: kstack/ustack's mode when none is written
    helper_warnings: bool = False  # -k: warn at run time when a map read finds no element
    include_files: tuple[str, ...] = ()  # --include FILE: system headers whose constants the script may use
    on_stack_limit: int = 32  # config on_stack_limit: memory values bigger than this go in the scratch map
    log_size: int = 1000000  # config log_size / BPFTRACE_LOG_SIZE: the verifier log's buffer with -v (bytes)
    max_cat_bytes: int = 10240  # config max_cat_bytes / BPFTRACE_MAX_CAT_BYTES: what cat() prints at most
    print_maps_on_exit: bool = True  # config print_maps_on_exit: print every map when the run ends
    show_debug_info: bool = True  # config show_debug_info: user stack frames with file:line and inlined frames
    cache_user_symbols: str = ""  # config cache_user_symbols: per_pid, per_program, none ("": bpftrace's default)
    perf_rb_pages: int = 0  # config perf_rb_pages / BPFTRACE_PERF_RB_PAGES: the ring buffer's pages (0: by program)
    dummy_ts_map: str = ""  # BPFTRACE_DUMMY_TS_MAP: tseries reads its clock from this scalar map (tests)
    prometheus_labels: list[str]  # config prometheus_labels: names of key parts
    kernel: object = None  # a lang.kernel_view.KernelView to compile for; None: this machine's

    def __init__(self, **settings) -> None:
        for name in ("params", "named_params", "import_paths", "prometheus_labels"):  # the lists, each its own
            setattr(self, name, [])
        for name, value in settings.items():
            if name not in Options.__annotations__:
                raise TypeError(f"Options() got an unexpected keyword argument {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in Options.__annotations__)
        return f"Options({shown})"
