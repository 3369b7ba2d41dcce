"""Resolve a type as written in a program (`uint32`, `struct task_struct *`,
`pid_t`, `struct foo` defined in the script, `uint8[4]`) to a language type.

Order: the language's integer names and C spellings, then the script's own
struct definitions, then the probe's own types (a uprobe target's DWARF),
then kernel BTF (structs, unions, enums, typedefs).
"""

from __future__ import annotations

import re

from pytrace.lang import ktypes
from pytrace.lang import types as T

_ARRAY = re.compile(r"^(?P<base>.*?)\s*\[(?P<n>\d*)\]$")


def base_type(name: str, c_types=None, kernel=None, probe_types=None) -> T.Type | None:
    """A type name without pointers; None when nothing knows it. `kernel`:
    the lang.kernel_view.KernelView whose BTF has the kernel's types;
    `probe_types`: name -> type or None, the probe's own types."""
    m = _ARRAY.match(name)
    if m:
        elem = base_type(m["base"], c_types, kernel, probe_types)
        if elem is None:
            return None
        n = int(m["n"] or 0)
        return T.StringType(n) if m["base"] == "string" else T.ArrayType(elem, n)
    if name == "string":
        return T.StringType(64)
    if name == "void":
        return T.VOID
    t = T.INT_TYPE_NAMES.get(name)
    if t is None and c_types is not None:
        t = c_types.lookup(name)
    if t is None and probe_types is not None:
        t = probe_types(name)
    if t is None and kernel is not None:
        t = ktypes.named_type(name, kernel.btf())
    return t


def resolve(name: str, pointer: int, c_types=None, addrspace: str = "kernel", kernel=None,
            probe_types=None) -> T.Type | None:
    m = _ARRAY.match(name)
    if m and m["base"].endswith("*"):  # `struct Foo *[2]`: an array of pointers
        elem = resolve(m["base"][:-1].rstrip(), 1, c_types, addrspace, kernel, probe_types)
        t = None if elem is None else T.ArrayType(elem, int(m["n"] or 0))
    else:
        t = base_type(name, c_types, kernel, probe_types)
    if t is None:
        return None
    for _ in range(pointer):
        t = T.PointerType(None if isinstance(t, T.VoidType) else t, addrspace)
    return t
