"""printf formatters compiled once per printf id, for the event loop's hot path.

`format_printf` (printf.py) decodes every argument into a value, then formats
each conversion through a StreamState: exact, but a few microseconds per
event. Most printf calls only print integers and strings with plain flags;
for those, `compile_printf` builds one `struct.Struct` that reads every
argument straight from the ring buffer record (the conversion's truncation to
8/16/32/64 bits is the struct code's width: x86-64 is little-endian, so the
low bytes of an argument come first) and one Python `%` template, and the
event costs one `unpack_from` and one `%`.

A conversion whose bpftrace semantics Python's `%` does not reproduce exactly
(the `0` flag on signed numbers, `#`, `%c`, `%p`, `%r`, `%gr`, values that are
not plain integers or strings) makes `compile_printf` return None, and that
printf id keeps the exact path. tests/runtime/test_printf_compiled.py checks
both paths agree.
"""

from __future__ import annotations

import os
import struct
from .text import StreamState

# Bits a length modifier gives an integer conversion (none: 32), as bpftrace's printf.
LENGTH_BITS = {'hh': 8, 'h': 16, 'l': 64, 'll': 64, 'j': 64, 'z': 64, 't': 64}

_INT_CODES = {(1, True): 'b', (1, False): 'B', (2, True): 'h', (2, False): 'H',
              (4, True): 'i', (4, False): 'I', (8, True): 'q', (8, False): 'Q'}
_UNSIGNED_PY = {'u': 'd', 'o': 'o', 'x': 'x', 'X': 'X'}

# A compiled printf ("Formatter"): (record view, offset of the record's payload) -> the text.


def _string_value(width: int, left: bool, trailer: str):
    """A C string argument: up to its NUL, or its whole buffer plus the trailer;
    a width pads to that many bytes (bpftrace counts bytes, not characters)."""
    def value(raw: bytes) -> str:
        end = raw.find(0)
        s = raw.decode("utf-8", "surrogateescape") + trailer if end < 0 else \
            raw[:end].decode("utf-8", "surrogateescape")
        return StreamState(width=width, left=left).put_str(s) if width else s
    return value


def _conversion(seg, layout: dict, trailer: str):
    """(struct code, % conversion, value converter or None) for one argument, or None."""
    kind, size = layout.get("kind"), layout.get("size", 0)
    width = str(seg.width) if seg.width else ""
    left = "-" if seg.left_align else ""
    conv = seg.conv
    if kind == "int" and size in (1, 2, 4, 8) and not (conv == "s" and "enum" in layout):  # %s of an enum: its name
        signed_layout = layout.get("signed", False)
        if conv in ("d", "i"):
            if seg.lead_zeros:   # bpftrace fills before the sign: 00-42
                return None
            bits = LENGTH_BITS.get(seg.length, 32)
            if bits // 8 > size and not signed_layout:
                code = _INT_CODES[(size, False)]   # zero-extended: never negative
            else:
                code = _INT_CODES[(min(bits // 8, size), True)]
            return code, f"%{left}{'+' if seg.show_sign else ''}{width}d", None
        if conv in _UNSIGNED_PY:
            if seg.alternate_form or (seg.lead_zeros and seg.left_align):
                return None
            bits = LENGTH_BITS.get(seg.length, 32)
            if bits // 8 > size and signed_layout:
                return None   # sign extension then wrap: the exact path
            zero = "0" if seg.lead_zeros else ""
            return _INT_CODES[(min(bits // 8, size), False)], f"%{left}{zero}{width}{_UNSIGNED_PY[conv]}", None
        if conv == "s" and not seg.lead_zeros:
            if seg.show_sign and size == 8 and not signed_layout:
                return None   # '+' only below 2**63: the exact path
            sign = "+" if seg.show_sign else ""
            return _INT_CODES[(size, signed_layout)], f"%{left}{sign}{width}d", None
        return None
    if kind == "string" and conv == "s" and not seg.lead_zeros and size:
        return f"{size}s", "%s", _string_value(seg.width or 0, seg.left_align, trailer)
    return None


def compile_printf(segments, arg_layouts: list[dict], arg_offsets: list[int]) -> "Formatter | None":
    """A formatter for one printf id, or None when its conversions need the exact path."""
    convs = [s for s in segments if s.conv is not None]
    if len(convs) != len(arg_layouts) or sorted(arg_offsets) != list(arg_offsets):
        return None
    trailer = os.environ.get("BPFTRACE_STR_TRUNC_TRAILER", "..")
    template, fields, converters, at = [], ["<"], [], 0
    args = iter(zip(arg_layouts, arg_offsets))
    for seg in segments:
        if seg.conv is None:
            template.append(seg.text.replace("%", "%%"))
            continue
        layout, offset = next(args)   # offsets count from the record's start (its u64 id)
        compiled = _conversion(seg, layout, trailer)
        if compiled is None or offset < max(at, 8):
            return None
        code, py, convert = compiled
        fields.append(f"{offset - at}x{code}")
        at = offset + struct.calcsize("<" + code)
        template.append(py)
        converters.append(convert)
    reader = struct.Struct("".join(fields)).unpack_from
    text = "".join(template)
    conversions = [(i, f) for i, f in enumerate(converters) if f is not None]
    if not conversions:
        return lambda view, offset: text % reader(view, offset)

    def formatter(view, offset):
        values = list(reader(view, offset))
        for i, convert in conversions:
            values[i] = convert(values[i])
        return text % tuple(values)
    return formatter
