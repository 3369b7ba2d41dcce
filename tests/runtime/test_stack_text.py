"""Stacks as text, from their raw bytes (no kernel, no processes)."""

import struct

from pytrace.runtime import symbols


def test_build_id_stack_prints_build_id_and_offset_or_the_ip():
    build_id = bytes(range(20))
    frames = struct.pack("<i20sQ", 1, build_id, 0x1126) + struct.pack("<i20sQ", 2, b"\0" * 20, 0x7f0012345678)
    data = struct.pack("<iiQ", 42, 0, 2) + frames + b"\0" * 32  # the third slot is past the frame count
    layout = {"kind": "ustack", "mode": "build_id", "limit": 3, "size": len(data)}
    assert symbols.DECODERS["ustack"](layout, data) == (
        "\n000102030405060708090a0b0c0d0e0f10111213 0x1126\n7f0012345678\n")


def test_build_id_offset_has_at_least_two_digits():
    data = struct.pack("<iiQ", 1, 0, 1) + struct.pack("<i20sQ", 1, b"\xab" * 20, 5)
    assert symbols.build_id_stack(data, 16, 1) == "\n" + "ab" * 20 + " 0x05\n"
