"""A minimal BTF writer for synthetic test blobs."""

import struct

from pytrace.lang import btf as btfmod


class Builder:
    """Minimal BTF writer for synthetic blobs (optionally split on a base)."""

    def __init__(self, base=None, endian="<"):
        self.e, self.base = endian, base
        self.first = base.nr_types if base else 1
        self.str_base = base.str_base + base.str_len if base else 0
        self.strs, self.recs = bytearray(b"\0"), []

    def s(self, name):
        if not name:
            return 0
        off = len(self.strs)
        self.strs += name.encode() + b"\0"
        return self.str_base + off

    def base_s(self, name):
        """Offset of an existing string in the base's string section."""
        b = self.base
        pos = b.data.find(b"\0" + name.encode() + b"\0", b._str_start, b._str_end)
        assert pos >= 0
        return pos + 1 - b._str_start + b.str_base

    def add(self, kind, name, size_or_type, items=(), extra=b"", kflag=0, vlen=None):
        kind_id = btfmod.KIND_IDS[kind]
        name_off = name if isinstance(name, int) else self.s(name)
        vlen = len(items) if vlen is None else vlen
        info = kflag << 31 | kind_id << 24 | vlen
        rec = struct.pack(self.e + "III", name_off, info, size_or_type) + extra
        for it in items:
            rec += struct.pack(self.e + "I" * len(it), *[x & 0xFFFFFFFF for x in it])
        self.recs.append(rec)
        return self.first + len(self.recs) - 1

    def blob(self):
        types = b"".join(self.recs)
        hdr = struct.pack(self.e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types),
                          len(types), len(self.strs))
        return hdr + types + bytes(self.strs)
