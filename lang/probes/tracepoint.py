"""tracepoint:CATEGORY:EVENT (`t:`): static kernel tracepoints.

`args` is a record typed from the event's tracefs format file; its fields
are read straight out of the program's context."""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

from pytrace.lang import types as T
from pytrace.lang.probes import tracefs
from pytrace.lang.probes.base import NoMatches, ProbeError, ProbeProvider, ProbeSpec, has_wildcard

DATA_LOC = T.StringType(64)  # `__data_loc char[] name`: read as a string
_FIELD_RE = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d)")


def _struct_pointee(base: str, kernel) -> T.Type | None:
    """`struct __kernel_timespec *` points to that struct (from BTF, converted lazily)."""
    m = re.fullmatch(r"(struct|union)\s+(\w+)\s*\*", base)
    if m is None:
        return None
    from pytrace.lang import ktypes

    return ktypes.named_type(f"{m.group(1)} {m.group(2)}", kernel.btf() if kernel else None)


def _field_type(decl: str, size: int, signed: bool, user_pointers: bool, kernel=None) -> tuple[str, T.Type]:
    """Split `const char * filename` into its name and a type."""
    decl = decl.strip()
    array = re.search(r"\[(\d*)\]\s*$", decl)
    if array:
        decl = decl[: array.start()].strip()
    m = re.match(r"(?P<ctype>.*?)(?P<name>[A-Za-z_]\w*)$", decl)
    if m is None:
        return decl, T.IntType(8 * size if size in (1, 2, 4, 8) else 64, signed)
    ctype, name = m.group("ctype").strip(), m.group("name")
    if ctype.startswith("__data_loc"):
        return name, DATA_LOC
    base = ctype.replace("const ", "").replace("volatile ", "").strip()
    if "*" in base:
        space = "user" if user_pointers else "kernel"
        pointee = T.S8 if base.rstrip("* ").endswith("char") else _struct_pointee(base, kernel)
        for _ in range(base.count("*") - 1):  # `const char *const * argv`
            pointee = T.PointerType(pointee, space)
        return name, T.PointerType(pointee, space)
    if array:
        if base.endswith("char"):
            return name, T.StringType(size)
        elem_size = max(1, size // max(1, int(array.group(1) or 1)))
        elem = T.IntType(8 * elem_size if elem_size in (1, 2, 4, 8) else 8, signed)
        return name, T.ArrayType(elem, size // elem_size)
    if base == "bool" or base == "_Bool":
        return name, T.BOOL
    bits = 8 * size if size in (1, 2, 4, 8) else 64
    if base.startswith("enum "):  # printed by its enumerators' names, from BTF
        from pytrace.lang import ktypes

        named_enum = ktypes.named_type(base, kernel.btf() if kernel else None)
        if isinstance(named_enum, T.EnumType):
            return name, T.EnumType(bits, named_enum.signed, named_enum.enum_name, named_enum.names)
    # The C type decides the sign (the format's `signed:` is 0 for every syscall
    # argument); the field's size decides the width, as in bpftrace.
    named = T.INT_TYPE_NAMES.get(" ".join(base.split()))
    if isinstance(named, T.IntType):
        signed = named.signed
    return name, T.IntType(bits, signed)


@lru_cache(maxsize=None)
def args_record(kernel, category: str, event: str) -> T.RecordType | None:
    text = kernel.tracepoint_format(category, event)
    if text is None:
        return None
    fields: dict[str, T.RecordField] = {}
    end = 0
    for m in _FIELD_RE.finditer(text):
        off, size, signed = int(m["off"]), int(m["size"]), m["signed"] == "1"
        name, ftype = _field_type(m["decl"], size, signed, category == "syscalls", kernel)
        end = max(end, off + size)
        if name.startswith("common_"):
            continue
        fields[name] = T.RecordField(name, off, ftype, data_loc=ftype is DATA_LOC)
    return T.RecordType(f"struct _tracepoint_{category}_{event}", end, fields)


def format_fields(category: str, event: str) -> list[str]:
    """`-lv` lines: the event's fields as C declarations."""
    text = tracefs.read_format(category, event) or ""
    out = []
    for m in _FIELD_RE.finditer(text):
        decl = " ".join(m["decl"].split())
        if not decl.split()[-1].startswith("common_"):
            out.append(decl)
    return out


class TracepointProvider(ProbeProvider):
    name = "tracepoint"
    aliases = ("t",)
    prog_type = "tracepoint"
    attach_kind = "tracepoint"
    pid_predicate = True
    variable_names = ("args",)
    doc = "static kernel tracepoints: tracepoint:CATEGORY:EVENT"

    def expand_in(self, kernel, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) != 2 or not all(parts):
            raise ProbeError("tracepoint probe must have a category and an event: tracepoint:CATEGORY:EVENT")
        cat, ev = parts
        if has_wildcard(cat) or has_wildcard(ev):
            matches = [(c, e) for c, e in kernel.tracepoints()
                       if fnmatch.fnmatchcase(c, cat) and fnmatch.fnmatchcase(e, ev)]
            if not matches:
                raise NoMatches(f"tracepoint {cat}:{ev}", wildcard=True)
        else:
            if kernel.tracepoint_format(cat, ev) is None:
                raise NoMatches(f"tracepoint {cat}:{ev}")
            matches = [(cat, ev)]
        return [ProbeSpec(self.name, f"tracepoint:{c}:{e}", {"category": c, "event": e},
                          {"kind": self.attach_kind, "category": c, "event": e}) for c, e in matches]

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        return args_record(spec.kernel, spec.target["category"], spec.target["event"])

    def completions(self, fields: list[str]) -> list[str]:
        if len(fields) == 1:
            return sorted({c + ":" for c, _ in tracefs.all_tracepoints()})
        if len(fields) == 2:
            return sorted(e for c, e in tracefs.all_tracepoints() if c == fields[0])
        return []

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        out = []
        for c, e in tracefs.all_tracepoints():
            name = f"tracepoint:{c}:{e}"
            if fnmatch.fnmatchcase(name, pattern):
                out.append(name)
                out.extend(f"    {f};" for f in format_fields(c, e) if verbose)
        return out
