"""Stale tracefs probe events of pytrace runs that were killed.

Programs, maps, links and perf events are owned by file descriptors and go
with the process, however it ends. A kprobe/uprobe event created through
tracefs (runtime/kprobes.py, on kernels without the kprobe PMU) does not: it
stays in `kprobe_events` until removed. pytrace names such events
`pytrace_<pid>_<n>`, so an event whose pid no longer runs is stale. Every run
that creates one first removes the stale ones, and `pytrace --cleanup`
removes them explicitly.
"""

from __future__ import annotations

import os
import re

EVENT_FILES = ("kprobe_events", "uprobe_events")
# `p:kprobes/pytrace_123_0 vfs_read` -> group/name and pid
_LINE = re.compile(r"^[pr]\d*:(?P<event>(?:\w+/)?pytrace_(?P<pid>\d+)_\d+)\s")


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def stale_events(tracefs: str) -> list[tuple[str, str]]:
    """(events file, event) of every pytrace event whose process is gone."""
    out = []
    for name in EVENT_FILES:
        try:
            with open(os.path.join(tracefs, name)) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            m = _LINE.match(line)
            if m and not _alive(int(m.group("pid"))):
                out.append((name, m.group("event")))
    return out


def remove_stale(tracefs: str | None = None) -> list[str]:
    """Remove the stale events; returns the events removed (those the kernel
    refused to remove, e.g. still open, are left and not listed)."""
    if tracefs is None:
        from pytrace.runtime import perf

        tracefs = perf.tracefs_path()
    removed = []
    for file_name, event in stale_events(tracefs):
        try:  # a raw O_APPEND write: tracefs refuses the seek of Python's "a" mode
            fd = os.open(os.path.join(tracefs, file_name), os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, f"-:{event}\n".encode())
            finally:
                os.close(fd)
        except OSError:
            continue
        removed.append(event)
    return removed


_done_in_this_process = False


def remove_stale_once() -> None:
    """Before this process creates its first tracefs event."""
    global _done_in_this_process
    if not _done_in_this_process:
        _done_in_this_process = True
        remove_stale()
