"""Folded stacks (`-f folded`, `--stacks-out FILE`): the interchange format of
flame graphs that flamegraph.pl, inferno and speedscope read. One line per
distinct stack, root first, frames joined by ";", then a space and a count:

    main;compute;inner 412

A map is foldable when a part of its key is a stack (kstack/ustack) and its
value is an integer (count(), sum(), a plain value). Key parts that are not
stacks become root frames in key order (`@[comm, ustack]` gives
`python3;main;...`), then the stacks in key order (write `@[ustack, kstack]`
to put the kernel on top of the user code that entered it). Frames are function names
without their `+offset`.

As an output format this module has the text format's functions (the Writer
calls them by name): maps that cannot be folded, printf and the other events
print as text.
"""

from __future__ import annotations

import re

from pytrace.runtime.output import text
from pytrace.runtime.output.text import (ATTACH_STREAM, LOST_EVENTS_STREAM, attached_probes,  # noqa: F401
                                         cat_event, format_printf_event, format_value, join_event, lost_events,
                                         syscall_event, time_event, total_lost_events, test_result,
                                         benchmark_result)
from pytrace.runtime.output.values import MapData, Symbolic

# One frame line of a decoded stack: "        func+12", "\t7f0012 func+12 (/lib/x.so)" (perf mode) or "7f0012" (raw).
_FRAME = re.compile(r"^(?:[0-9a-f]+ )?(?P<name>.*?)(?:\+\d+)?(?: \([^()]*\))?$")


def is_stack(value) -> bool:
    """A decoded kstack/ustack: its text starts with a newline (runtime/symbols.Symbolizer.stack)."""
    return isinstance(value, str) and value.startswith("\n")


def stack_frames(stack: str) -> list[str]:
    """A decoded stack's function names, root first."""
    names = []
    for line in stack.strip("\n").split("\n"):
        line = line.strip()
        if line:
            names.append(_FRAME.match(line).group("name").replace(";", ":") or line)
    return names[::-1]


def _part_text(part) -> str:
    if isinstance(part, Symbolic):
        return part.symbol
    return str(part).replace(";", ":")


def _key_parts(key) -> tuple:
    if key is None:
        return ()
    if len(key) == 1 and isinstance(key[0], tuple):
        return key[0]
    return tuple(key)


def fold_key(key) -> str | None:
    """The folded path of a map key; None when no part of it is a stack."""
    parts = _key_parts(key)
    stacks = [p for p in parts if is_stack(p)]
    if not stacks:
        return None
    frames = [_part_text(p) for p in parts if not is_stack(p)]
    for stack in stacks:
        frames.extend(stack_frames(stack))
    return ";".join(frames) if frames else None


def _count_of(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


def foldable(m: MapData) -> bool:
    return any(fold_key(k) is not None and _count_of(v) is not None for k, v in m.entries)


def fold(m: MapData) -> dict[str, int]:
    """{folded path: count} of a map, equal paths (stacks that differ only by offsets) added up."""
    paths: dict[str, int] = {}
    for key, value in m.entries:
        path, count = fold_key(key), _count_of(value)
        if path is not None and count is not None and count > 0:
            paths[path] = paths.get(path, 0) + count
    return paths


def format_folded(paths: dict[str, int]) -> str:
    return "".join(f"{path} {count}\n" for path, count in sorted(paths.items()))


# --- the output format (the text format's function names) --------------------

def format_map(m: MapData, top: int = 0, div: int = 1, *, at_exit: bool = False) -> str:
    if foldable(m):
        return format_folded(fold(m))
    return text.format_map(m, top, div, at_exit=at_exit)


def end() -> str:
    return ""


def format_exit(maps: list, print_maps: bool = True) -> str:
    if not print_maps:
        return ""
    return "".join(format_map(m, at_exit=True) for m in sorted(maps, key=lambda m: m.name))
