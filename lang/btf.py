"""A small, lazy, pure-Python reader for BTF (BPF Type Format).

Format: the kernel's Documentation/bpf/btf.rst.  A blob is a header
(magic 0xeB9F, version, flags, hdr_len, type_off, type_len, str_off, str_len)
followed by a type section of variable-length records and a string section.
Type id 0 is ``void``; ids of the records start at 1.  Split BTF (kernel
modules) continues the id space and the string offsets of its base (vmlinux).

Nothing is decoded up front: the first ``find``/``type`` call makes a single
pass over the type section recording each record's offset and indexing named
records by (string offset, kind) -- names are not decoded in that pass; find()
locates the name's offsets in the string section instead.  ``BtfType``
objects are decoded on demand and cached.
Type ids are always relative to one ``BTF`` object (a module's ids below
``base.nr_types`` are vmlinux ids and are delegated to the base).
"""

from __future__ import annotations

import bisect
import os
import struct
from typing import NamedTuple

MAGIC = 0xEB9F
SYSFS_BTF = "/sys/kernel/btf"
POINTER_SIZE = 8  # 64-bit kernels only

KINDS = (None, "int", "ptr", "array", "struct", "union", "enum", "fwd", "typedef",
         "volatile", "const", "restrict", "func", "func_proto", "var", "datasec",
         "float", "decl_tag", "type_tag", "enum64")
KIND_IDS = {k: i for i, k in enumerate(KINDS) if k}
# Record size = 12-byte common header + kind extra + vlen * per-item size.
_EXTRA = (0, 4, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 4, 0, 0)
_VLEN_SZ = (0, 0, 0, 0, 12, 12, 8, 0, 0, 0, 0, 0, 0, 8, 0, 12, 0, 0, 0, 12)
# Indexed by info >> 24 (kind plus kind_flag in bit 7); None for unknown kinds.
_RECORD_FIXED = [None] * 256
_RECORD_ITEM = [None] * 256
for _k in range(1, len(KINDS)):
    _RECORD_FIXED[_k] = _RECORD_FIXED[_k | 0x80] = 12 + _EXTRA[_k]
    _RECORD_ITEM[_k] = _RECORD_ITEM[_k | 0x80] = _VLEN_SZ[_k]
_MODIFIERS = frozenset(("typedef", "const", "volatile", "restrict", "type_tag"))
_SIZED = frozenset(("int", "struct", "union", "enum", "enum64", "float", "datasec"))
# Which kind wins for find(name) without a kind.
_FIND_ORDER = [KIND_IDS[k] for k in (
    "struct", "union", "typedef", "enum", "enum64", "int", "float", "func", "var",
    "datasec", "fwd", "ptr", "array", "const", "volatile", "restrict", "func_proto",
    "decl_tag", "type_tag")]


class BTFError(Exception):
    pass


class Member(NamedTuple):
    name: str            # "" for anonymous struct/union members
    type_id: int
    bit_offset: int      # from the start of the immediately enclosing struct/union
    bitfield_size: int   # 0 unless a bitfield


class BtfType:
    """One decoded type record.  Kind-specific attributes default to None."""

    __slots__ = ("id", "kind", "name", "size", "type", "vlen", "kind_flag",
                 "bits", "bit_offset", "signed", "is_char", "is_bool",
                 "elem_type", "index_type", "nelems", "members", "values",
                 "params", "variadic", "linkage", "vars", "component_idx")

    def __init__(self, id: int, kind: str, name: str) -> None:
        for slot in self.__slots__:
            setattr(self, slot, None)
        self.id, self.kind, self.name = id, kind, name

    def __repr__(self) -> str:
        extra = f" size={self.size}" if self.size is not None else ""
        extra += f" type={self.type}" if self.type is not None else ""
        return f"<BtfType [{self.id}] {self.kind} {self.name!r}{extra}>"


class BTF:
    _kernel: "BTF | None" = None

    def __init__(self, data: bytes, base: "BTF | None" = None, name: str = "",
                 module_dir: str | None = None) -> None:
        self.data, self.base, self.name = data, base, name
        self.module_dir = module_dir  # where lookup() finds module BTF (SYSFS_BTF for vmlinux)
        if len(data) < 24:
            raise BTFError("BTF blob too short")
        if struct.unpack_from("<H", data)[0] == MAGIC:
            self._e = "<"
        elif struct.unpack_from(">H", data)[0] == MAGIC:
            self._e = ">"
        else:
            raise BTFError("bad BTF magic")
        (_, self.version, self.flags, hdr_len, type_off, type_len, str_off,
         str_len) = struct.unpack_from(self._e + "HBBIIIII", data)
        self._types_start = hdr_len + type_off
        self._types_end = self._types_start + type_len
        self._str_start = hdr_len + str_off
        self._str_end = self._str_start + str_len
        if self._types_end > len(data) or self._str_end > len(data):
            raise BTFError("BTF section out of bounds")
        self.first_id = base.nr_types if base else 1
        self.str_base = base.str_base + base.str_len if base else 0
        self.str_len = str_len
        self._offsets: list[int] | None = None     # record offset per local id
        self._names: dict[int, int] | None = None   # name_off<<8|kind -> offset
        self._found: dict[tuple[str, str | None], int | None] = {}
        self._enumerators: dict[str, tuple[int, int]] | None = None
        self._cache: dict[int, BtfType] = {}
        self._modules: dict[str, BTF] = {}

    # ----------------------------------------------------------------- loading
    @classmethod
    def kernel(cls) -> "BTF":
        """Cached vmlinux BTF; module BTF is loaded on demand via module()."""
        if cls._kernel is None:
            with open(os.path.join(SYSFS_BTF, "vmlinux"), "rb") as f:
                cls._kernel = cls(f.read(), name="vmlinux", module_dir=SYSFS_BTF)
        return cls._kernel

    @classmethod
    def from_file(cls, path: str, base: "BTF | None" = None) -> "BTF":
        with open(path, "rb") as f:
            return cls(f.read(), base, os.path.basename(path))

    def module_names(self) -> list[str]:
        if self.module_dir is None:
            return []
        try:
            return sorted(n for n in os.listdir(self.module_dir) if n != "vmlinux")
        except OSError:
            return []

    def module(self, name: str) -> "BTF | None":
        """Split BTF of a loaded kernel module (on top of this BTF), or None."""
        if name not in self._modules:
            if self.module_dir is None:
                return None
            path = os.path.join(self.module_dir, name)
            if name == "vmlinux" or "/" in name or not os.path.isfile(path):
                return None
            self._modules[name] = BTF.from_file(path, base=self)
        return self._modules[name]

    def lookup(self, name: str, kind: str | None = None) -> "tuple[BTF, int] | None":
        """find() in this BTF, then in every loaded module: (btf, type id)."""
        tid = self.find(name, kind)
        if tid is not None:
            return self, tid
        for mod in self.module_names():
            btf = self.module(mod)
            tid = btf.find(name, kind) if btf else None
            if tid is not None and tid >= btf.first_id:
                return btf, tid
        return None

    # ----------------------------------------------------------------- indexing
    def _index(self) -> None:
        """Single pass over the type section: record offsets, and index named
        types by (name_off << 8 | info >> 24) -> record offset.  Names are not
        decoded here (that would double the cost); find() locates the name's
        offsets in the string section instead."""
        d = self.data
        unpack = struct.Struct(self._e + "II").unpack_from
        fixed, item = _RECORD_FIXED, _RECORD_ITEM
        offsets: list[int] = []
        append = offsets.append
        idx: dict[int, int] = {}
        setdefault = idx.setdefault
        off, end = self._types_start, self._types_end
        try:
            while off < end:
                name_off, info = unpack(d, off)
                k = info >> 24  # kind | kind_flag << 7
                append(off)
                if name_off:
                    setdefault(name_off << 8 | k, off)
                off += fixed[k] + (info & 0xFFFF) * item[k]
        except (TypeError, struct.error):
            raise BTFError(f"bad BTF record at offset {off}") from None
        if off != end:
            raise BTFError("type section does not end on a record boundary")
        self._offsets, self._names = offsets, idx

    def _id_at(self, off: int) -> int:
        return self.first_id + bisect.bisect_left(self._offsets, off)

    def _str_offsets(self, name: bytes) -> list[int]:
        """Every string offset (in this BTF and its bases) that reads as name."""
        out = self.base._str_offsets(name) if self.base else []
        pat = name + b"\0"
        d, start, end = self.data, self._str_start, self._str_end
        p = d.find(pat, start, end)
        while p >= 0:
            out.append(p - start + self.str_base)
            p = d.find(pat, p + 1, end)
        return out

    @property
    def nr_types(self) -> int:
        """Number of type ids including void and base types (next free id)."""
        if self._offsets is None:
            self._index()
        return self.first_id + len(self._offsets)

    def str_at(self, off: int) -> str:
        if off < self.str_base:
            return self.base.str_at(off)
        off = self._str_start + off - self.str_base
        if off >= self._str_end:
            raise BTFError(f"string offset {off} out of range")
        return self.data[off:self.data.index(b"\0", off)].decode()

    # ----------------------------------------------------------------- lookups
    def find(self, name: str, kind: str | None = None) -> int | None:
        """Type id by name (lowest id wins), optionally restricted to a kind.
        Without a kind, struct beats union beats typedef ... (see _FIND_ORDER).
        A split BTF searches its own types, then its base."""
        key = (name, kind)
        if key in self._found:
            return self._found[key]
        if self._names is None:
            self._index()
        tid = None
        if name:
            cands = self._str_offsets(name.encode())
            for k in (_FIND_ORDER if kind is None else [KIND_IDS[kind]]):
                hits = [o for c in cands for kk in (k, k | 0x80)
                        if (o := self._names.get(c << 8 | kk)) is not None]
                if hits:
                    tid = self._id_at(min(hits))
                    break
            if tid is None and self.base is not None:
                tid = self.base.find(name, kind)
        self._found[key] = tid
        return tid

    def names(self, kind: str) -> list[str]:
        """Every name of one kind (e.g. all kernel functions), unsorted."""
        if self._names is None:
            self._index()
        k = KIND_IDS[kind]
        return [self.str_at(key >> 8) for key in self._names if key & 0x7F == k]

    def type(self, type_id: int) -> BtfType:
        if type_id < self.first_id and self.base is not None:
            return self.base.type(type_id)
        t = self._cache.get(type_id)
        if t is None:
            t = self._cache[type_id] = self._decode(type_id)
        return t

    def _decode(self, tid: int) -> BtfType:
        if tid == 0:
            t = BtfType(0, "void", "void")
            t.size = 0
            return t
        if self._offsets is None:
            self._index()
        i = tid - self.first_id
        if not 0 <= i < len(self._offsets):
            raise BTFError(f"type id {tid} out of range")
        d, e, off = self.data, self._e, self._offsets[i]
        name_off, info, st = struct.unpack_from(e + "III", d, off)
        kind = KINDS[(info >> 24) & 0x1F]
        t = BtfType(tid, kind, self.str_at(name_off) if name_off else "")
        t.vlen, t.kind_flag = info & 0xFFFF, bool(info >> 31)
        p, n = off + 12, t.vlen
        if kind in _SIZED:
            t.size = st
        else:
            t.type = st
        if kind == "int":
            (enc,) = struct.unpack_from(e + "I", d, p)
            t.bits, t.bit_offset = enc & 0xFF, (enc >> 16) & 0xFF
            t.signed, t.is_char, t.is_bool = (bool(enc & 1 << 24), bool(enc & 2 << 24),
                                              bool(enc & 4 << 24))
        elif kind == "array":
            t.elem_type, t.index_type, t.nelems = struct.unpack_from(e + "III", d, p)
        elif kind in ("struct", "union"):
            ms = []
            for j in range(n):
                mn, mt, mo = struct.unpack_from(e + "III", d, p + 12 * j)
                nm = self.str_at(mn) if mn else ""
                ms.append(Member(nm, mt, mo & 0xFFFFFF, mo >> 24) if t.kind_flag
                          else Member(nm, mt, mo, 0))
            t.members = ms
        elif kind == "enum":
            fmt = e + ("Ii" if t.kind_flag else "II")
            t.signed = t.kind_flag
            t.values = [(self.str_at(a), v) for a, v in
                        (struct.unpack_from(fmt, d, p + 8 * j) for j in range(n))]
        elif kind == "enum64":
            t.signed = t.kind_flag
            vals = []
            for j in range(n):
                a, lo, hi = struct.unpack_from(e + "III", d, p + 12 * j)
                v = lo | (hi << 32)
                if t.signed and v >= 1 << 63:
                    v -= 1 << 64
                vals.append((self.str_at(a), v))
            t.values = vals
        elif kind == "func_proto":
            ps = [struct.unpack_from(e + "II", d, p + 8 * j) for j in range(n)]
            t.variadic = bool(ps) and ps[-1] == (0, 0)
            if t.variadic:
                ps.pop()
            t.params = [(self.str_at(a) if a else "", b) for a, b in ps]
        elif kind == "func":
            t.linkage = n
        elif kind == "var":
            (t.linkage,) = struct.unpack_from(e + "I", d, p)
        elif kind == "datasec":
            t.vars = [struct.unpack_from(e + "III", d, p + 12 * j) for j in range(n)]
        elif kind == "decl_tag":
            (t.component_idx,) = struct.unpack_from(e + "i", d, p)
        elif kind == "fwd":
            t.type = None
        return t

    def resolve(self, type_id: int) -> int:
        """Skip typedef/const/volatile/restrict/type_tag."""
        t = self.type(type_id)
        while t.kind in _MODIFIERS:
            t = self.type(t.type)
        return t.id

    def size_of(self, type_id: int) -> int:
        """Size in bytes; 0 for void, fwd, func and func_proto."""
        t = self.type(self.resolve(type_id))
        if t.kind in _SIZED:
            return t.size
        if t.kind == "ptr":
            return POINTER_SIZE
        if t.kind == "array":
            return t.nelems * self.size_of(t.elem_type)
        if t.kind == "var":
            return self.size_of(t.type)
        return 0

    def members(self, type_id: int) -> list[Member]:
        t = self.type(self.resolve(type_id))
        if t.kind not in ("struct", "union"):
            raise TypeError(f"{self.type_name(type_id)} is not a struct or union")
        return t.members

    def find_member(self, struct_id: int, name: str) -> tuple[Member, int] | None:
        """(member, bit offset from the outer struct), looking inside anonymous
        struct/union members; None if not found or not a struct/union."""
        t = self.type(self.resolve(struct_id))
        if t.kind not in ("struct", "union"):
            return None
        for m in t.members:
            if m.name == name:
                return m, m.bit_offset
        for m in t.members:
            if not m.name:
                found = self.find_member(m.type_id, name)
                if found:
                    return found[0], m.bit_offset + found[1]
        return None

    def func_proto(self, func_name: str) -> tuple[list[tuple[str, int]], int] | None:
        """([(param name, type id)], return type id) of a FUNC, or None."""
        fid = self.find(func_name, "func")
        if fid is None:
            return None
        proto = self.type(self.type(fid).type)
        return list(proto.params), proto.type

    def enum_value(self, name: str) -> tuple[int, int] | None:
        """(value, enum type id) of an enumerator; first enum defining it wins."""
        if self._enumerators is None:
            if self._offsets is None:
                self._index()
            idx: dict[str, tuple[int, int]] = {}
            unpack = struct.Struct(self._e + "II").unpack_from
            for i, off in enumerate(self._offsets):
                if (unpack(self.data, off)[1] >> 24) & 0x1F in (6, 19):  # enum(64)
                    tid = self.first_id + i
                    for n, v in self.type(tid).values:
                        idx.setdefault(n, (v, tid))
            self._enumerators = idx
        hit = self._enumerators.get(name)
        if hit is None and self.base is not None:
            return self.base.enum_value(name)
        return hit

    # ----------------------------------------------------------------- helpers
    def int_info(self, type_id: int) -> tuple[int, bool] | None:
        """(size in bytes, signed) for ints, bools and enums; else None."""
        t = self.type(self.resolve(type_id))
        if t.kind in ("int", "enum", "enum64"):
            return t.size, t.signed
        return None

    def is_pointer(self, type_id: int) -> bool:
        return self.type(self.resolve(type_id)).kind == "ptr"

    def pointee(self, type_id: int) -> int | None:
        """Referenced (unresolved) type id of a pointer, None if not a pointer."""
        t = self.type(self.resolve(type_id))
        return t.type if t.kind == "ptr" else None

    def type_name(self, type_id: int) -> str:
        """C spelling: 'struct task_struct *', 'char[16]', 'const char *'."""
        return self._c_decl(type_id, "")

    def declaration(self, type_id: int, name: str) -> str:
        """C declaration of NAME with this type: 'char comm[16]', 'void (*fn)(int)'."""
        return self._c_decl(type_id, name)

    def _c_decl(self, tid: int, decl: str) -> str:
        t = self.type(tid)
        k = t.kind
        if k == "ptr":
            inner = "*" + decl
            if self.type(self._skip_tags(t.type)).kind in ("array", "func_proto"):
                inner = f"({inner})"
            return self._c_decl(t.type, inner)
        if k == "array":
            return self._c_decl(t.elem_type, f"{decl}[{t.nelems}]")
        if k in ("const", "volatile", "restrict"):
            if self.type(self._skip_tags(t.type)).kind == "ptr":
                return self._c_decl(t.type, k + (" " + decl if decl else ""))
            inner = self._c_decl(t.type, decl)
            return f"{k} {inner}"
        if k in ("type_tag", "var"):
            return self._c_decl(t.type, decl)
        if k == "func_proto":
            args = [self.type_name(p) for _, p in t.params]
            if t.variadic:
                args.append("...")
            return self._c_decl(t.type, f"{decl}({', '.join(args) or 'void'})")
        if k == "func":
            return self._c_decl(t.type, t.name + decl)
        if k in ("struct", "union", "enum", "enum64", "fwd"):
            tag = {"fwd": "union" if t.kind_flag else "struct", "enum64": "enum"}.get(k, k)
            base = f"{tag} {t.name or '(anon)'}"
        elif k == "datasec":
            base = f"SEC {t.name}"
        else:  # void, int, float, typedef, decl_tag
            base = t.name
        if not decl:
            return base
        return base + decl if decl[0] == "[" else f"{base} {decl}"

    def _skip_tags(self, tid: int) -> int:
        t = self.type(tid)
        while t.kind == "type_tag":
            t = self.type(t.type)
        return t.id
