"""Keyless counters as per-CPU arrays.

A map without keys holds one value, so it needs no hash: `@ = count()` in a
per-CPU array of one element is a lookup the verifier inlines (no hashing, no
helper call) and it never fills up. The array's element always exists, so user
space reads an all-zero count as "no entry", as the hash map it replaces would
have had none (runtime/maps.py; after zero(@), the runtime keeps showing it).

Only maps whose every use keeps that equivalence are turned into arrays: a
count() without keys, assigned only by `@m = count()` and otherwise only
printed, cleared or zeroed (done by user space), or read as a value. A
delete(@m) or a declaration (`let @m = ...`) keeps the hash.
"""

from __future__ import annotations

from pytrace.lang import ast
from pytrace.lang.context import CompileContext
from pytrace.lang.visitor import walk

ARRAY_KINDS = {"count"}
KEY_SIZE = 4  # an array's index; the program's 8-byte zero key starts with it (little-endian)


def keyless_arrays(ctx: CompileContext) -> set[str]:
    """Names of the maps stored in a one-element per-CPU array instead of a hash."""
    names = {name for name, info in ctx.maps.items()
             if info.kind in ARRAY_KINDS and not info.key_types and name not in ctx.map_decls}
    if not names or ctx.program is None:
        return names
    for node in walk(ctx.program):
        if isinstance(node, ast.Call) and node.name == "delete":
            names -= {arg.name for arg in node.args if isinstance(arg, ast.Map)}
    return names
