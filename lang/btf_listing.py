"""`-l 'struct NAME'`: kernel types (struct, union, enum) named in BTF, and with
`-v` their C definitions, laid out as libbpf's BTF dumper writes them and prefixed
by the BTF they come from (`vmlinux: struct task_struct {`), as bpftrace lists them."""

from __future__ import annotations

import fnmatch

from pytrace.lang.btf import BTF

TYPE_PREFIXES = ("struct ", "union ", "enum ")
_KINDS = {"struct": ("struct",), "union": ("union",), "enum": ("enum", "enum64")}


def is_type_search(search: str) -> bool:
    """Whether a `-l` search names types rather than probes."""
    return search.startswith(TYPE_PREFIXES)


def list_types(btf: BTF, search: str, verbose: bool, source: str = "vmlinux") -> list[str]:
    """The lines `-l SEARCH` prints: sorted type names matching, or (verbose) each
    matching type's definition followed by an empty line."""
    names = sorted({f"{tag} {name}" for tag, kinds in _KINDS.items() for kind in kinds
                    for name in btf.names(kind) if name})
    matches = [n for n in names if fnmatch.fnmatchcase(n, search)]
    if not verbose:
        return matches
    lines: list[str] = []
    for full in matches:
        tag, name = full.split(" ", 1)
        tid = next(t for t in (btf.find(name, kind) for kind in _KINDS[tag]) if t is not None)
        definition = define(btf, tid)
        lines.append(f"{source}: {definition[0]}")
        lines.extend(definition[1:])
        lines.append("")
    return lines


def define(btf: BTF, tid: int) -> list[str]:
    """A struct, union or enum's C definition, one line per list item."""
    t = btf.type(tid)
    tag = "enum" if t.kind == "enum64" else t.kind
    return [f"{tag} {t.name} {{", *_body(btf, t, 1), "};"]


def _body(btf: BTF, t, depth: int) -> list[str]:
    indent = "\t" * depth
    if t.kind in ("enum", "enum64"):
        return [f"{indent}{name} = {value}," for name, value in t.values]
    lines: list[str] = []
    for m in t.members:
        bits = f": {m.bitfield_size}" if m.bitfield_size else ""
        inner = _anonymous(btf, m.type_id)
        if inner is not None:  # an anonymous struct/union/enum is written in place
            tag = "enum" if inner.kind == "enum64" else inner.kind
            lines.append(f"{indent}{tag} {{")
            lines.extend(_body(btf, inner, depth + 1))
            lines.append(f"{indent}}}{' ' + m.name if m.name else ''}{bits};")
        else:
            lines.append(f"{indent}{btf.declaration(m.type_id, m.name)}{bits};")
    return lines


def _anonymous(btf: BTF, tid: int):
    """The member's type when it is an anonymous struct, union or enum, else None."""
    t = btf.type(tid)
    while t.kind in ("const", "volatile", "type_tag"):
        t = btf.type(t.type)
    if t.kind in ("struct", "union", "enum", "enum64") and not t.name:
        return t
    return None
