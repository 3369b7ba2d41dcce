"""Compile options (kept free of heavy imports: the CLI needs them before
it knows whether it must compile at all)."""

from __future__ import annotations

# Settings of unstable features (config unstable_tseries, ...): enable, warn
# (the default) or error; true/false also work.
UNSTABLE_MODES = {"enable": "enable", "true": "enable", "warn": "warn", "error": "error", "false": "error"}


class Options:
    """A plain class rather than a dataclass: the CLI imports it at every start, and importing
    `dataclasses` (which imports `inspect`) costs about 10 ms of a cached program's start."""

    def __init__(self, *, params: list[str] | None = None, max_strlen: int = 64, max_map_keys: int = 4096,
                 unsafe: bool = False, has_child: bool = False, pid_filter: int | None = None,
                 debuginfo: tuple[str, ...] = (), missing_probes: str = "error", unstable_tseries: str = "warn",
                 perf_rb_pages: int = 0, dummy_ts_map: str = "", prometheus_labels: list[str] | None = None,
                 kernel: object = None) -> None:
        self.params = params if params is not None else []  # positional parameters $1..$N
        self.max_strlen = max_strlen
        self.max_map_keys = max_map_keys
        self.unsafe = unsafe
        self.has_child = has_child  # -c given, so cpid is meaningful
        self.pid_filter = pid_filter  # -p PID
        self.debuginfo = debuginfo  # --debuginfo DIRs: where separate DWARF of uprobe targets is searched
        self.missing_probes = missing_probes  # an attach point matching nothing: "error", "warn" (and skip) or "ignore"
        self.unstable_tseries = unstable_tseries  # config unstable_tseries: "enable", "warn" or "error"
        self.perf_rb_pages = perf_rb_pages  # config perf_rb_pages / BPFTRACE_PERF_RB_PAGES: the ring's pages (0: by program)
        self.dummy_ts_map = dummy_ts_map  # BPFTRACE_DUMMY_TS_MAP: tseries reads its clock from this scalar map (tests)
        self.prometheus_labels = prometheus_labels if prometheus_labels is not None else []  # config prometheus_labels
        self.kernel = kernel  # a lang.kernel_view.KernelView to compile for; None: this machine's

    def __repr__(self) -> str:
        return f"Options({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"
