"""Kernel types from BTF, as language types (lang/types.py).

Conversion is lazy: a BTF struct becomes a `BtfRecordType` that knows only
its name, size and BTF id; its members are converted one at a time when a
program names them (`curtask->parent->pid` converts three members, not the
task_struct graph). Pointers convert their pointee the same way, so a
pointer to a struct costs one small object.

Mapping (as bpftrace does it): ints and enums -> IntType (`_Bool` -> bool),
`char[N]` -> a string of N bytes, other arrays -> ArrayType, pointers ->
PointerType(pointee, "kernel"), structs/unions -> BtfRecordType. Types
with no language equivalent (floats, function prototypes) -> None.
"""

from __future__ import annotations

from dataclasses import field
from pytrace.lang.records import record

from pytrace.lang import types as T
from pytrace.lang.btf import BTF

_INT_SIZES = (1, 2, 4, 8)


@record(frozen=True, eq=False)
class BtfRecordType(T.RecordType):
    """A kernel struct or union whose members are converted on demand."""

    btf: BTF | None = field(default=None, compare=False, repr=False)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def field(self, name: str) -> T.RecordField | None:
        if name in self._cache:
            return self._cache[name]
        found = self.btf.find_member(self.btf_id, name) if self.btf else None
        rf = None
        if found is not None:
            member, bit_offset = found
            ftype = from_btf(self.btf, member.type_id)
            if ftype is not None:
                rf = _record_field(name, ftype, bit_offset, member.bitfield_size)
        self._cache[name] = rf
        return rf

    def field_names(self) -> list[str]:
        return [n for n in _member_names(self.btf, self.btf_id)] if self.btf else []

    def all_fields(self) -> list[T.RecordField]:
        """Every member (for printing a whole struct); convertible ones only."""
        return [f for f in map(self.field, self.field_names()) if f is not None]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BtfRecordType) and other.btf is self.btf and other.btf_id == self.btf_id

    def __hash__(self) -> int:
        return hash(("btf", self.btf_id))


def _record_field(name: str, ftype: T.Type, bit_offset: int, bitfield_size: int) -> T.RecordField:
    if not bitfield_size and bit_offset % 8 == 0:
        return T.RecordField(name, bit_offset // 8, ftype)
    bits = bitfield_size or ftype.size * 8
    return T.RecordField(name, bit_offset // 8, ftype, bitfield=(bit_offset % 8, bits))


def _member_names(btf: BTF, tid: int) -> list[str]:
    """Member names, with the members of anonymous structs/unions inlined."""
    names: list[str] = []
    for m in btf.members(tid):
        if m.name:
            names.append(m.name)
        elif btf.type(btf.resolve(m.type_id)).kind in ("struct", "union"):
            names.extend(_member_names(btf, m.type_id))
    return names


def _int(t) -> T.Type:
    if t.is_bool:
        return T.BOOL
    size = t.size if t.size in _INT_SIZES else 8
    return T.IntType(size * 8, bool(t.signed))


def _is_char(btf: BTF, tid: int) -> bool:
    t = btf.type(btf.resolve(tid))
    return t.kind == "int" and t.size == 1 and (t.is_char or "char" in t.name)


def from_btf(btf: BTF, tid: int) -> T.Type | None:
    """The language type of BTF type `tid` (see the module docstring)."""
    t = btf.type(btf.resolve(tid))
    kind = t.kind
    if kind == "int":
        return _int(t)
    if kind in ("enum", "enum64"):
        size = t.size if t.size in _INT_SIZES else 8
        names = tuple((v, n) for n, v in t.values)
        return T.EnumType(size * 8, bool(t.signed), t.name, names)
    if kind == "ptr":
        pointee_id = btf.resolve(t.type)
        if pointee_id == 0 or btf.type(pointee_id).kind in ("func_proto", "fwd"):
            pointee = _fwd(btf, pointee_id) if pointee_id else None
        else:
            pointee = from_btf(btf, pointee_id)
        return T.PointerType(pointee, "kernel")
    if kind in ("struct", "union"):
        return BtfRecordType(btf.type_name(t.id), t.size, btf_id=t.id, btf=btf)
    if kind == "array":
        if _is_char(btf, t.elem_type):
            return T.StringType(t.nelems) if t.nelems else T.ArrayType(T.S8, 0)
        elem = from_btf(btf, t.elem_type)
        return T.ArrayType(elem, t.nelems) if elem is not None else None
    return None


def _fwd(btf: BTF, tid: int) -> T.Type | None:
    """A pointer to a forward-declared struct: the full definition if BTF has one."""
    t = btf.type(tid)
    if t.kind != "fwd":
        return None
    full = btf.find(t.name, "union" if t.kind_flag else "struct")
    return from_btf(btf, full) if full is not None else None


def named_type(name: str, btf: BTF | None) -> T.Type | None:
    """`struct task_struct`, `union X`, `enum X` or a typedef name, from BTF
    (the kernel's: lang.kernel_view.KernelView.btf(); None: no BTF)."""
    if btf is None:
        return None
    words = name.split()
    if len(words) == 2 and words[0] in ("struct", "union", "enum"):
        kinds = [words[0]] if words[0] != "enum" else ["enum", "enum64"]
        tag = words[1]
    elif len(words) == 1:
        kinds, tag = ["typedef"], name
    else:
        return None
    for kind in kinds:
        hit = btf.lookup(tag, kind)
        if hit is not None:
            return from_btf(hit[0], hit[1])
    return None


def task_struct_ptr(btf: BTF | None) -> T.Type:
    """The type of `curtask`: `struct task_struct *`, or `void *` without BTF."""
    ts = named_type("struct task_struct", btf)
    return T.PointerType(ts, "kernel")


def enumerator_type(name: str, btf: BTF | None) -> T.EnumType | None:
    """The type of a kernel enumerator used as a value: its enum's, 64 bits wide."""
    hit = btf.enum_value(name) if btf is not None else None
    if hit is None:
        return None
    t = from_btf(btf, hit[1])
    return T.EnumType(64, False, t.enum_name, t.names) if isinstance(t, T.EnumType) else None


def enum_value(name: str, btf: BTF | None) -> int | None:
    if btf is None:
        return None
    hit = btf.enum_value(name)
    return hit[0] if hit is not None else None
