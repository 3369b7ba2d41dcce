"""The printf formatters compiled per printf id (runtime/output/printf_compiled.py)
print exactly what the exact path (decode each argument, then format_printf) prints,
and refuse the conversions they cannot reproduce."""

import itertools
import struct

import pytest

from pytrace.lang.format_string import parse_format
from pytrace.runtime import maps
from pytrace.runtime.output.printf import format_printf
from pytrace.runtime.output.printf_compiled import compile_printf

INT_LAYOUTS = [{"kind": "int", "size": size, "signed": signed} for size in (1, 2, 4, 8) for signed in (True, False)]
INT_VALUES = [0, 1, 7, 42, -1, -42, 127, 128, 255, 65535, 2**31 - 1, 2**31, 2**32 + 5, 2**63 - 1, -2**63]
FLAGS = ["", "-", "+", "0", "5", "-5", "05", "+5", "-05", "#", "#x"]


def record(layouts, values) -> tuple[bytes, list[int]]:
    """[u64 id][args], each argument 8-aligned, as the compiler lays them out."""
    data, offsets = bytearray(struct.pack("<Q", 3)), []
    for layout, value in zip(layouts, values):
        offsets.append(len(data))
        size = layout["size"]
        if layout["kind"] == "int":
            data += (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")
        else:
            data += value.ljust(size, b"\0")[:size]
        data += b"\0" * (-len(data) % 8)
    return bytes(data), offsets


def both(fmt, layouts, values):
    segments, _ = parse_format(fmt)
    data, offsets = record(layouts, values)
    exact = format_printf(segments, [maps.decode(layout, data[off:]) for layout, off in zip(layouts, offsets)])
    compiled = compile_printf(segments, layouts, offsets)
    # the record sits inside a larger view, as in the ring buffer
    view = memoryview(b"\xee" * 16 + data + b"\xee" * 8)
    return exact, (None if compiled is None else compiled(view, 16))


@pytest.mark.parametrize("conv", ["d", "i", "u", "x", "X", "o", "ld", "lu", "lx", "hd", "hhu", "s", "c", "p"])
def test_integers_agree_with_the_exact_path(conv):
    compiled_any = False
    for layout, flags, value in itertools.product(INT_LAYOUTS, FLAGS, INT_VALUES):
        flags = flags.replace("x", "")
        exact, fast = both(f"<%{flags}{conv}>", [layout], [value])
        if fast is not None:
            compiled_any = True
            assert fast == exact, (conv, flags, layout, value)
    assert compiled_any == (conv not in ("c", "p"))


@pytest.mark.parametrize("text", [b"bash", b"", b"x" * 16, b"caf\xc3\xa9", b"\xff\xfe", b"ab\0cd"])
@pytest.mark.parametrize("flags", ["", "-", "10", "-10", "3"])
def test_strings_agree_with_the_exact_path(text, flags):
    layout = {"kind": "string", "size": 16}
    exact, fast = both(f"[%{flags}s]", [layout], [text])
    assert fast == exact


def test_several_arguments_and_literal_percent():
    layouts = [{"kind": "string", "size": 16}, {"kind": "int", "size": 4, "signed": True},
               {"kind": "int", "size": 8, "signed": False}]
    exact, fast = both("%-16s %6d 100%% %lu\n", layouts, [b"sshd", -3, 2**40])
    assert fast == exact == "sshd                 -3 100% 1099511627776\n"


@pytest.mark.parametrize("fmt,layout", [
    ("%05d", {"kind": "int", "size": 8, "signed": True}),       # bpftrace fills before the sign
    ("%#x", {"kind": "int", "size": 8, "signed": False}),
    ("%c", {"kind": "int", "size": 1, "signed": False}),
    ("%d", {"kind": "string", "size": 8}),                      # an error text, made by the exact path
    ("%s", {"kind": "tuple", "size": 16, "fields": []}),
])
def test_conversions_python_cannot_reproduce_keep_the_exact_path(fmt, layout):
    segments, _ = parse_format(fmt)
    assert compile_printf(segments, [layout], [8]) is None


def test_argument_count_mismatch_keeps_the_exact_path():
    segments, _ = parse_format("%d %d")
    assert compile_printf(segments, [{"kind": "int", "size": 8, "signed": True}], [8]) is None


def test_an_enum_printed_with_s_takes_the_exact_path():
    layout = {"kind": "int", "size": 8, "signed": False, "enum": [[1, "ONE"]]}
    segments, _ = parse_format("%s %d")
    assert compile_printf(segments, [layout, layout], [8, 16]) is None
    data, offsets = record([layout, layout], [1, 1])
    args = [maps.decode(layout, data[off:]) for off in offsets]
    assert format_printf(segments, args) == "ONE 1"
