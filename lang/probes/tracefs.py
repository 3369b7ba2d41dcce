"""Read-only access to tracefs: where it is, the events it lists, and
tracepoint format files. (The runtime mounts tracefs when it is missing.)

Each function reads the tracefs at `base`, this machine's by default; a
lang.kernel_view.KernelView passes its own (a fixture directory in tests)."""

from __future__ import annotations

import os
from functools import lru_cache

CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
KALLSYMS = "/proc/kallsyms"


@lru_cache(maxsize=1)
def root() -> str | None:
    for path in CANDIDATES:
        if os.path.exists(os.path.join(path, "events")):
            return path
    return None


@lru_cache(maxsize=4)
def all_tracepoints(base: str | None = None) -> list[tuple[str, str]]:
    """Every (category, event) tracefs knows, sorted."""
    base = base or root()
    if base is None:
        return []
    out = []
    events = os.path.join(base, "events")
    for cat in sorted(os.listdir(events)):
        cdir = os.path.join(events, cat)
        if not os.path.isdir(cdir):
            continue
        for ev in sorted(os.listdir(cdir)):
            if os.path.isdir(os.path.join(cdir, ev)):
                out.append((cat, ev))
    return out


def read_format(category: str, event: str, base: str | None = None) -> str | None:
    base = base or root()
    if base is None:
        return None
    try:
        with open(os.path.join(base, "events", category, event, "format")) as f:
            return f.read()
    except OSError:
        return None


def available_filter_functions(base: str | None = None, kallsyms: str = KALLSYMS) -> list[str]:
    """Kernel functions kprobes may attach to; the text symbols of
    /proc/kallsyms when tracefs does not let us read the list (as on kernels
    built without kprobes); empty when neither is readable."""
    base = base or root()
    try:
        if base is None:
            raise OSError
        with open(os.path.join(base, "available_filter_functions")) as f:
            return [line.split()[0] for line in f if line.strip()]
    except OSError:
        return _kallsyms_functions(kallsyms)


def _kallsyms_functions(kallsyms: str) -> list[str]:
    try:
        with open(kallsyms) as f:
            return [parts[2] for parts in map(str.split, f)
                    if len(parts) >= 3 and parts[1] in "tT" and not parts[2].startswith("__pfx_")]
    except OSError:
        return []
