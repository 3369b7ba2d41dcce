"""Compile options (kept free of heavy imports: the CLI needs them before
it knows whether it must compile at all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Options:
    params: list[str] = field(default_factory=list)  # positional parameters $1..$N
    max_strlen: int = 64
    max_map_keys: int = 4096
    unsafe: bool = False
    has_child: bool = False  # -c given, so cpid is meaningful
    pid_filter: int | None = None  # -p PID
    missing_probes: str = "error"  # an attach point matching nothing: "error", "warn" (and skip) or "ignore"
    kernel: Any = None  # a lang.kernel_view.KernelView to compile for; None: this machine's
