"""Map keys as named fields: Prometheus labels (runtime/exporters/prometheus.py)
and DataFrame columns (runtime/frames.py) name and show them the same way.

A key's parts are named `key0`, `key1`, ... unless the program's config
block names them: `config = { prometheus_labels = "comm,pid" }` (the names
apply by position to every map; parts beyond the names keep `keyN`). A key
that is one tuple, `@[(a, b)]`, has the tuple's members as its parts.
"""

from __future__ import annotations

from pytrace.runtime.output import folded, text
from pytrace.runtime.output.values import Symbolic


def key_parts(key) -> tuple:
    """The parts of a map key (None for a map without keys: no parts)."""
    if key is None:
        return ()
    if len(key) == 1 and isinstance(key[0], tuple):
        return key[0]
    return tuple(key)


def part_names(count: int, names: list[str] | tuple = ()) -> list[str]:
    return [names[i] if i < len(names) else f"key{i}" for i in range(count)]


def part_text(part) -> str:
    """A key part as a label value: stacks as their folded frames (root;...;leaf),
    symbols (pointers, enums) as printed, booleans as true/false."""
    if folded.is_stack(part):
        return ";".join(folded.stack_frames(part))
    if isinstance(part, Symbolic):
        return part.symbol
    if isinstance(part, bool):
        return "true" if part else "false"
    if isinstance(part, str):
        return part
    return text.format_primitive(part)


def part_value(part):
    """A key part as a DataFrame cell: ints and strings stay, stacks are folded text."""
    if isinstance(part, (int, str)) and not folded.is_stack(part):
        return part
    return part_text(part)
