"""kprobes without the kprobe PMU, and the "attached but never fired" hint.

Kernels whose kprobe PMU is missing still take kprobes through tracefs:
a line `p:NAME FUNC+OFF` (or `r:NAME FUNC`) written to `kprobe_events`
creates the event `kprobes/NAME`, which is then opened as a tracepoint.
Such an event outlives its perf fd, so whoever creates one must remove it
again (`-:NAME`); runtime/attach.py does that when the fd is released.
"""

from __future__ import annotations

import errno as _errno
import itertools
import os
from pytrace.codegen.artifact import ProgramSpec
from pytrace.runtime import perf

_counter = itertools.count()


def _write(line: str) -> None:
    path = os.path.join(perf.tracefs_path(), "kprobe_events")
    try:  # a raw O_APPEND write: Python's "a" mode seeks, which tracefs refuses
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise perf.PerfError(e.errno or _errno.EINVAL,
                             f"cannot write '{line}' to {path}: {e.strerror}") from None


def add_event(func: str, module: str, offset: int, retprobe: bool) -> str:
    """Create a kprobe event in tracefs; returns its name (in group `kprobes`).
    The name carries our pid, so a later run removes it if we are killed
    (runtime/cleanup.py)."""
    from pytrace.runtime import cleanup

    cleanup.remove_stale_once()
    name = f"pytrace_{os.getpid()}_{next(_counter)}"
    target = f"{module}:{func}" if module else func
    if offset:
        target += f"+{offset}"
    _write(f"{'r' if retprobe else 'p'}:{name} {target}")
    return name


def remove_event(name: str) -> None:
    try:
        _write(f"-:{name}")
    except perf.PerfError:
        pass  # already gone


def open_event(func: str, module: str, offset: int, retprobe: bool) -> tuple[int, str]:
    """A perf fd on a new tracefs kprobe event, and the event's name."""
    name = add_event(func, module, offset, retprobe)
    try:
        return perf.open_tracepoint(perf.tracepoint_id("kprobes", name)), name
    except BaseException:
        remove_event(name)
        raise


def _available_functions() -> list[str]:
    try:
        with open(os.path.join(perf.tracefs_path(), "available_filter_functions")) as f:
            return [line.split()[0] for line in f if line.strip()]
    except OSError:
        return []


def never_fired_hint(spec: ProgramSpec, func: str) -> str:
    """Why a program's probe (a kprobe, fentry...: one whose provider declares
    warn_never_fired) that attached on func may never have fired, and what to try."""
    related = sorted(f for f in set(_available_functions()) if f.startswith(func) and f != func)[:3]
    tries = [f"{spec.provider}:{f}" for f in related]
    hint = spec.hint
    if hint and hint.startswith("try the tracepoint equivalent: "):
        tries += hint[len("try the tracepoint equivalent: "):].split(", ")
    text = (f"WARNING: {spec.probe} attached but never fired: the compiler may have inlined {func} "
            f"into its callers, leaving the {spec.warn_never_fired} nothing to catch")
    if tries:
        text += "\nHINT: try " + " or ".join(tries)
    return text + "\n"
