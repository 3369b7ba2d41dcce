"""Read-only access to tracefs: where it is, the events it lists, and
tracepoint format files. (The runtime mounts tracefs when it is missing.)"""

from __future__ import annotations

import os
from functools import lru_cache

CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


@lru_cache(maxsize=1)
def root() -> str | None:
    for path in CANDIDATES:
        if os.path.exists(os.path.join(path, "events")):
            return path
    return None


@lru_cache(maxsize=1)
def all_tracepoints() -> list[tuple[str, str]]:
    """Every (category, event) tracefs knows, sorted."""
    base = root()
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


def read_format(category: str, event: str) -> str | None:
    base = root()
    if base is None:
        return None
    try:
        with open(os.path.join(base, "events", category, event, "format")) as f:
            return f.read()
    except OSError:
        return None


def available_filter_functions() -> list[str]:
    """Kernel functions kprobes may attach to; the text symbols of
    /proc/kallsyms when tracefs does not let us read the list (as on kernels
    built without kprobes); empty when neither is readable."""
    base = root()
    try:
        if base is None:
            raise OSError
        with open(os.path.join(base, "available_filter_functions")) as f:
            return [line.split()[0] for line in f if line.strip()]
    except OSError:
        return _kallsyms_functions()


def _kallsyms_functions() -> list[str]:
    try:
        with open("/proc/kallsyms") as f:
            return [parts[2] for parts in map(str.split, f)
                    if len(parts) >= 3 and parts[1] in "tT" and not parts[2].startswith("__pfx_")]
    except OSError:
        return []
