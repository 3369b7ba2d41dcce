"""Stacks as text, from their raw bytes (no kernel, no processes)."""

import os
import shutil
import struct
import subprocess

import pytest

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


GONE = 2 ** 22 + 7  # above pid_max's default: no such process


@pytest.fixture
def program(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    (tmp_path / "p.c").write_text("__attribute__((noinline)) int f(int x) {\n  return x + 1;\n}\n"
                                  "int main(void) { return f(0); }\n")
    subprocess.run(["gcc", "-g", "-O0", "-no-pie", "-o", "p", "p.c"], cwd=tmp_path, check=True)
    return str(tmp_path / "p")


def _symbolizer(binary: str, **settings) -> symbols.Symbolizer:
    s = symbols.Symbolizer()
    s.use_binaries([binary])
    s.configure(**settings)
    return s


def test_per_program_resolves_from_the_executable_with_source_lines(program):
    from pytrace.lang.symtab import elf_symbol

    addr = elf_symbol(program, "f")[0] + 4
    s = _symbolizer(program, cache_user_symbols="per_program")
    assert s.stack([addr], False, "bpftrace", GONE) == f"\n        f+4@{os.path.dirname(program)}/p.c:1\n"
    assert s.stack([addr], False, "perf", GONE) == f"\n\t{addr:x} f+4 ({program})\n"
    s = _symbolizer(program, show_debug_info=False, cache_user_symbols="per_program")
    assert s.stack([addr], False, "bpftrace", GONE) == "\n        f+4\n"
    # none: a fresh cache of a process that is gone knows nothing
    s = _symbolizer(program, show_debug_info=False, cache_user_symbols="none")
    assert s.stack([addr], False, "bpftrace", GONE) == f"\n        0x{addr:x}\n"


def test_cache_user_symbols_default_follows_aslr(monkeypatch):
    s = symbols.Symbolizer()
    monkeypatch.setattr(symbols, "aslr_enabled", lambda: True)
    s.configure()
    assert s.cache_mode == "per_pid"
    monkeypatch.setattr(symbols, "aslr_enabled", lambda: False)
    s.configure()
    assert s.cache_mode == "per_program"
    s.configure(cache_user_symbols="none")
    assert s.cache_mode == "none"


def test_env_settings(monkeypatch):
    from pytrace.lang.options import Options
    from pytrace.runtime import driver

    monkeypatch.setenv("BPFTRACE_CACHE_USER_SYMBOLS", "PER_PID")
    monkeypatch.setenv("BPFTRACE_SHOW_DEBUG_INFO", "0")
    options = Options()
    driver.apply_env(options)
    assert (options.cache_user_symbols, options.show_debug_info) == ("per_pid", False)
