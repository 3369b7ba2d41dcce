"""The BTF a program with callbacks must carry.

A program that passes a callback to a helper (bpf_for_each_map_elem) holds
`ld_imm64 rX, <callback>` with src_reg=BPF_PSEUDO_FUNC. The kernel then
wants BTF function information: one FUNC per function of the program (the
main one at instruction 0, each callback at its first instruction), and
callbacks must have static linkage. Nothing else in the program needs BTF,
so the types are minimal: `long` and `void *`.
"""

from __future__ import annotations

import struct

LD_IMM64 = 0x18
BPF_PSEUDO_FUNC = 4
BTF_MAGIC = 0xEB9F
KIND_INT, KIND_PTR, KIND_FUNC, KIND_FUNC_PROTO = 1, 2, 12, 13
LINKAGE_STATIC, LINKAGE_GLOBAL = 0, 1


def callback_starts(insns: bytes) -> list[int]:
    """Instruction indices of the callbacks a program refers to."""
    starts = set()
    i = 0
    while i + 16 <= len(insns):
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, i)
        if code == LD_IMM64:
            if regs >> 4 == BPF_PSEUDO_FUNC:
                starts.add(i // 8 + 1 + imm)
            i += 16
            continue
        i += 8
    return sorted(starts)


class _Strings:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")

    def add(self, s: str) -> int:
        off = len(self.data)
        self.data += s.encode() + b"\0"
        return off


def func_info(insns: bytes) -> tuple[bytes, bytes] | None:
    """(BTF blob, func_info records) for a program with callbacks, else None."""
    starts = callback_starts(insns)
    if not starts:
        return None
    strings = _Strings()
    types = bytearray()

    def add_type(name_off: int, kind: int, vlen: int, size_or_type: int, extra: bytes = b"") -> int:
        types.extend(struct.pack("<III", name_off, kind << 24 | vlen, size_or_type) + extra)
        add_type.count += 1
        return add_type.count
    add_type.count = 0  # type: ignore[attr-defined]

    long_t = add_type(strings.add("long"), KIND_INT, 0, 8, struct.pack("<I", 1 << 24 | 64))
    ptr_t = add_type(0, KIND_PTR, 0, 0)

    def proto(params: list[str]) -> int:
        extra = b"".join(struct.pack("<II", strings.add(p), ptr_t) for p in params)
        return add_type(0, KIND_FUNC_PROTO, len(params), long_t, extra)

    main_proto = proto(["ctx"])
    callback_proto = proto(["map", "key", "value", "ctx"])
    records = [struct.pack("<II", 0, add_type(strings.add("main"), KIND_FUNC, LINKAGE_GLOBAL, main_proto))]
    for n, start in enumerate(starts):
        fid = add_type(strings.add(f"callback{n}"), KIND_FUNC, LINKAGE_STATIC, callback_proto)
        records.append(struct.pack("<II", start, fid))
    header = struct.pack("<HBBIIIII", BTF_MAGIC, 1, 0, 24, 0, len(types), len(types), len(strings.data))
    return header + bytes(types) + bytes(strings.data), b"".join(records)
