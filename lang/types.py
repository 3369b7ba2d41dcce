"""The types of the language.

Scalars (integers, bools, pointers) live in registers; strings, tuples,
buffers and records live in memory and are handled by address. Every type
knows its size and alignment in the kernel <-> user space byte layout, which
is what map keys, map values and ring-buffer records are made of.

`layout()` describes a type as a small JSON-able dict; the compiled
artifact carries these so the runtime can decode bytes without importing
this module's classes.
"""

from __future__ import annotations

from functools import cached_property
from dataclasses import field

from pytrace.lang import aggregations
from pytrace.lang.records import record, record_repr


class Type:
    size: int = 8
    align: int = 8
    is_scalar = False  # lives in a register
    name = "?"
    __repr__ = record_repr  # one function for every type (repr=False on each record)

    def __str__(self) -> str:
        return self.name

    def layout(self) -> dict:
        raise NotImplementedError(type(self).__name__)


@record(frozen=True, repr=False)
class IntType(Type):
    bits: int = 64
    signed: bool = False
    is_scalar = True

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.bits // 8

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.bits // 8

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{'' if self.signed else 'u'}int{self.bits}"

    def layout(self) -> dict:
        return {"kind": "int", "size": self.size, "signed": self.signed}


@record(frozen=True, repr=False)
class EnumType(IntType):
    """An integer of a C enum: printed as the enumerator's name when it has one
    (`names`: (value, name) pairs). Arithmetic on it gives a plain integer."""

    enum_name: str = ""
    names: tuple[tuple[int, str], ...] = ()

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"enum {self.enum_name}"

    def layout(self) -> dict:
        return {**super().layout(), "enum": [[v, n] for v, n in self.names]}


@record(frozen=True, repr=False)
class BoolType(Type):
    is_scalar = True
    name = "bool"
    size = 1
    align = 1

    def layout(self) -> dict:
        return {"kind": "bool", "size": 1}


@record(frozen=True, repr=False)
class StringType(Type):
    """A NUL-terminated string in a fixed-size buffer."""

    length: int = 64  # bytes including the NUL

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.length

    align = 1

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"string[{self.length}]"

    def layout(self) -> dict:
        return {"kind": "string", "size": self.length}


@record(frozen=True, repr=False)
class BufferType(Type):
    """`buf()`: a length byte count followed by bytes."""

    length: int = 64
    align = 1

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.length + 4

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"buffer[{self.length}]"

    def layout(self) -> dict:
        return {"kind": "buffer", "size": self.size}


@record(frozen=True, repr=False)
class TupleType(Type):
    """A tuple, or with `names` a record (`(a = 1, b = "x")`): laid out the same."""

    elems: tuple[Type, ...] = ()
    names: tuple[str, ...] = ()  # a record's field names, one per element

    # The layout is computed once per type: nested tuples would otherwise
    # recompute their elements' layouts exponentially often.
    def offsets(self) -> list[int]:
        return list(self._layout[0])

    @property
    def size(self) -> int:  # type: ignore[override]
        return self._layout[1]

    @property
    def align(self) -> int:  # type: ignore[override]
        return self._layout[2]

    @cached_property
    def _layout(self) -> tuple[tuple[int, ...], int, int]:
        offsets, off = [], 0
        for t in self.elems:
            off = align_up(off, t.align)
            offsets.append(off)
            off += t.size
        align = max((t.align for t in self.elems), default=1)
        return tuple(offsets), (align_up(off, align) if self.elems else 0), align

    @property
    def name(self) -> str:  # type: ignore[override]
        if self.names:
            return "record { " + ", ".join(f"{t} {n}" for n, t in zip(self.names, self.elems)) + " }"
        return "(" + ",".join(str(t) for t in self.elems) + ")"

    def layout(self) -> dict:
        if self.names:
            return {"kind": "record", "size": self.size,
                    "fields": [{"name": n, "offset": o, "layout": t.layout()}
                               for n, o, t in zip(self.names, self.offsets(), self.elems)]}
        return {
            "kind": "tuple",
            "size": self.size,
            "fields": [{"offset": o, "layout": t.layout()} for o, t in zip(self.offsets(), self.elems)],
        }


@record(frozen=True, repr=False)
class PointerType(Type):
    """A pointer. `pointee` is a Type, or None for void.

    `addrspace` says how to read through it: "kernel" and "user" memory
    need bpf_probe_read_{kernel,user}; "ctx" points into the program's
    context (tracepoint `args`) and is loaded directly."""

    pointee: Type | None = None
    addrspace: str = "kernel"
    is_scalar = True

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.pointee.name if self.pointee else 'void'} *"

    def layout(self) -> dict:
        return {"kind": "pointer", "size": 8}


@record(frozen=True)
class RecordField:
    name: str
    offset: int
    type: Type
    bitfield: tuple[int, int] | None = None  # (bit offset within the loaded unit, bit size)
    data_loc: bool = False  # tracepoint `__data_loc`: a u32 (length << 16 | offset) to the data


@record(frozen=True, eq=False, repr=False)
class RecordType(Type):
    """A C struct/union: tracepoint `args`, BTF structs, script-defined structs."""

    record_name: str = ""
    record_size: int = 0
    fields: dict[str, RecordField] = field(default_factory=dict)
    btf_id: int | None = None
    record_align: int = 0  # C's alignment of a script-defined struct; 0: unknown (8 is used)
    # A provider's `args` whose fields are not laid out in the context as in the
    # record (uprobe arguments live in pt_regs registers): field -> context offset.
    ctx_offsets: dict[str, int] | None = None

    def ctx_offset(self, f: RecordField) -> int:
        """Where a field of `args` is in the program's context."""
        return f.offset if self.ctx_offsets is None else self.ctx_offsets[f.name]

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.record_size

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.record_align or 8

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.record_name

    def field(self, name: str) -> RecordField | None:
        return self.fields.get(name)

    def field_names(self) -> list[str]:
        return list(self.fields)

    def all_fields(self) -> list[RecordField]:
        return list(self.fields.values())

    def layout(self) -> dict:
        out = []
        for f in self.all_fields():
            entry = {"name": f.name, "offset": f.offset, "layout": f.type.layout()}
            if f.bitfield is not None:
                entry["bitfield"] = list(f.bitfield)
            out.append(entry)
        return {"kind": "record", "size": self.size, "fields": out}


@record(frozen=True, repr=False)
class ArrayType(Type):
    elem: Type = None  # type: ignore[assignment]
    count: int = 0

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.elem.size * self.count

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.elem.align

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.elem.name}[{self.count}]"

    def layout(self) -> dict:
        return {"kind": "array", "size": self.size, "count": self.count, "elem": self.elem.layout()}


STACK_MODES = ("bpftrace", "perf", "raw", "build_id")
DEFAULT_STACK_LIMIT = 127  # PERF_MAX_STACK_DEPTH, bpftrace's default
STACK_MODE_ERROR = "Invalid value for stack_mode: valid values are bpftrace, raw, perf, and build_id."
BUILD_ID_FRAME_SIZE = 32  # struct bpf_stack_build_id: s32 status, u8 build_id[20], u64 offset/ip


@record(frozen=True, repr=False)
class StackType(Type):
    """kstack / ustack: the raw frame addresses, symbolised in user space.

    kstack is [u64 frame count][u64 ip * limit]; ustack is
    [u32 pid][u32 0][u64 frame count][u64 ip * limit] (the pid to symbolise with).
    A build_id ustack holds a struct bpf_stack_build_id per frame instead of an ip."""

    kernel: bool = True
    mode: str = "bpftrace"
    limit: int = DEFAULT_STACK_LIMIT

    @property
    def header(self) -> int:
        return 8 if self.kernel else 16

    @property
    def frame_size(self) -> int:
        return BUILD_ID_FRAME_SIZE if self.mode == "build_id" else 8

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.header + self.frame_size * self.limit

    @property
    def name(self) -> str:  # type: ignore[override]
        return "kstack" if self.kernel else "ustack"

    def layout(self) -> dict:
        return {"kind": "kstack" if self.kernel else "ustack", "size": self.size,
                "mode": self.mode, "limit": self.limit}


@record(frozen=True, repr=False)
class SymbolType(Type):
    """ksym(addr) / usym(addr): an address printed as its symbol's name.
    ksym is [u64 addr]; usym is [u64 addr][u32 pid][u32 0]."""

    kernel: bool = True

    @property
    def size(self) -> int:  # type: ignore[override]
        return 8 if self.kernel else 16

    @property
    def name(self) -> str:  # type: ignore[override]
        return "ksym_t" if self.kernel else "usym_t"

    def layout(self) -> dict:
        return {"kind": "ksym" if self.kernel else "usym", "size": self.size}


@record(frozen=True, repr=False)
class VoidType(Type):
    name = "void"
    size = 0
    align = 1

    def layout(self) -> dict:
        return {"kind": "none", "size": 0}


@record(frozen=True, repr=False)
class OpaqueType(Type):
    """Bytes of a type the language has no values of (a C `float` or `double` in a
    script's struct): it takes its room in the struct and prints as bpftrace's none (null)."""

    size: int = 0  # type: ignore[assignment]
    align: int = 1  # type: ignore[assignment]
    name = "none"

    def layout(self) -> dict:
        return {"kind": "none", "size": self.size}


# C types of no language values, by name: their size and alignment (x86-64, arm64).
OPAQUE_TYPE_NAMES = {"float": OpaqueType(4, 4), "double": OpaqueType(8, 8)}


@record(frozen=True, repr=False)
class UserFormatType(Type):
    """A value the kernel sends raw and user space turns into text when it is
    printed: `username` (a uid), `strftime()` (a timestamp), `ntop()`,
    `macaddr()`, `cgroup_path()`. `kind` names the decoder (runtime/maps.decode);
    `extra` is JSON-able data the decoder needs (e.g. strftime's format)."""

    kind: str = "username"
    value_size: int = 8
    extra: str = ""
    align = 8

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.value_size

    @property
    def name(self) -> str:  # type: ignore[override]
        return {"username": "username", "strftime": "timestamp", "ntop": "inet"}.get(self.kind, f"{self.kind}_t")

    def layout(self) -> dict:
        return {"kind": self.kind, "size": self.value_size, "extra": self.extra}


@record(frozen=True, repr=False)
class AggType(Type):
    """The value type of an aggregation: count(), sum(), hist()... (its
    entry in lang/aggregations.py gives the layout).

    `params` holds hist's k or lhist's (min, max, step)."""

    func: str = "count"
    signed: bool = False
    params: tuple[int, ...] = ()

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.func}_t"

    @property
    def size(self) -> int:  # type: ignore[override]
        return aggregations.AGGREGATIONS[self.func].value_size

    def layout(self) -> dict:
        return {"kind": self.func, "size": self.size, "signed": self.signed, "params": list(self.params)}


def align_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


# Common instances.
U8, U16, U32, U64 = (IntType(b, False) for b in (8, 16, 32, 64))
S8, S16, S32, S64 = (IntType(b, True) for b in (8, 16, 32, 64))
BOOL = BoolType()
VOID = VoidType()

INT_TYPE_NAMES = {
    "int8": S8, "int16": S16, "int32": S32, "int64": S64,
    "uint8": U8, "uint16": U16, "uint32": U32, "uint64": U64,
    "bool": BOOL,
    # C spellings, as written in casts and script structs.
    "char": S8, "short": S16, "int": S32, "long": S64,
    "unsigned char": U8, "unsigned short": U16, "unsigned int": U32,
    "unsigned long": U64, "long long": S64, "unsigned long long": U64,
    "signed char": S8, "u8": U8, "u16": U16, "u32": U32, "u64": U64,
    "s8": S8, "s16": S16, "s32": S32, "s64": S64,
    "__u8": U8, "__u16": U16, "__u32": U32, "__u64": U64,
    "__s8": S8, "__s16": S16, "__s32": S32, "__s64": S64,
    "size_t": U64, "ssize_t": S64, "pid_t": S32, "uid_t": U32, "gid_t": U32,
    "umode_t": U16, "loff_t": S64, "off_t": S64, "dev_t": U32,
}


def is_int(t: Type | None) -> bool:
    return isinstance(t, (IntType, BoolType))


def is_integerish(t: Type | None) -> bool:
    """Usable in arithmetic: integers, bools and pointers (not `args`, a
    record in the probe's context, as in bpftrace)."""
    if isinstance(t, PointerType):
        return t.addrspace != "ctx"
    return isinstance(t, (IntType, BoolType))


def is_signed(t: Type | None) -> bool:
    return isinstance(t, IntType) and t.signed


def comparison_signed(lt: Type, rt: Type, left_flexible: bool = False, right_flexible: bool = False) -> bool:
    """Whether bpftrace compares two integers as signed: both sides are
    promoted to one type, signed when either side is (a sign-flexible
    non-negative literal takes the other side's sign)."""
    if left_flexible:
        return is_signed(rt)
    if right_flexible:
        return is_signed(lt)
    return is_signed(lt) or is_signed(rt)


def describe(t: Type | None) -> str:
    """How diagnostics name a type, as bpftrace does."""
    if t is None:
        return "none"
    if isinstance(t, StringType):
        return "string"
    if isinstance(t, IntType):
        return t.name
    return t.name


def storage_type(t: Type) -> Type:
    """How a value is stored in a map or sent to user space: integers widen
    to 64 bits (keeping their sign), except inside tuples, and `args`
    (a pointer into the probe's context) is stored as the record it points to."""
    if isinstance(t, EnumType):
        return EnumType(64, t.signed, t.enum_name, t.names)
    if isinstance(t, IntType):
        return S64 if t.signed else U64
    if isinstance(t, PointerType):
        if t.addrspace == "ctx" and isinstance(t.pointee, RecordType):
            return t.pointee
        return t  # kept (8 bytes): str(@m[k]) still knows user from kernel memory
    if isinstance(t, TupleType):  # a tuple's integers keep their size, as in bpftrace
        return TupleType(tuple(e if isinstance(e, IntType) else storage_type(e) for e in t.elems), t.names)
    return t
