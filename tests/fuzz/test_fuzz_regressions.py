"""One test per class of input that once crashed, hung or ended the compiler
(issue 12): each now compiles, or gets a diagnostic naming the limit, within
a time limit. Compiled for the fixture kernel (nothing loaded)."""


import pytest

import fuzzing
from pytrace.lang.diagnostics import CompileError


def outcome(text: str, seconds: float = 10, **options) -> str:
    """"compiled" or the rendered diagnostics; fails on a traceback or a hang."""
    finding = fuzzing.check_program(text, seconds=seconds, **options)
    assert finding is None, str(finding)
    try:
        fuzzing.compile_program(text, **options)
    except CompileError as e:
        return e.diagnostics.render()
    return "compiled"


@pytest.mark.parametrize("expr", ["$x << 100", "$x << -1", "$x >> $x", "(uint8)1 << 64"])
def test_shifts_by_64_or_more_or_negative_compile(expr):
    assert outcome(f"BEGIN {{ $x = 70; @r = {expr}; print(@r); }}") == "compiled"


@pytest.mark.parametrize("expr", ["1 << 64", "1 << 65", "1 >> -1", "-1 >> 64"])
def test_literal_shifts_by_64_or_more_or_negative_are_not_folded(expr):
    assert "ERROR: unable to fold literals due to overflow or underflow" in outcome(
        f"BEGIN {{ $x = 70; @r = {expr}; print(@r); }}")


@pytest.mark.parametrize("expr, error", [
    ("args - 1", "The - operator can not be used on expressions of type 'struct _fentry_vfs_read *'"),
    ("-args", "The - operator can not be used on expressions of type 'struct _fentry_vfs_read *'"),
    ("(uint8)args", 'Cannot cast from "struct _fentry_vfs_read *" to "uint8"'),
    ("args * 2", "The * operator can not be used"),
    ("!args", "The ! operator can not be used"),
])
def test_fentry_args_used_as_an_integer_is_a_diagnostic(expr, error):
    assert error in outcome(f"fentry:vfs_read {{ $x = {expr}; }}")


def test_tracepoint_args_used_as_an_integer_is_a_diagnostic():
    assert "The + operator can not be used" in outcome("tracepoint:syscalls:sys_enter_openat { @ = args + 1; }")


def test_max_strlen_past_the_limit_in_config_is_a_diagnostic_naming_the_limit():
    text = outcome('config = { max_strlen = 100000 } BEGIN { $s = str(0); printf("%s\\n", $s); }')
    assert "max_strlen: 100000 is over the limit of 16384 bytes" in text


def test_max_strlen_past_the_limit_from_the_environment_is_a_diagnostic(monkeypatch):
    from pytrace.runtime import driver

    monkeypatch.setenv("BPFTRACE_MAX_STRLEN", "100000")
    options = fuzzing._options()
    driver.apply_env(options)
    assert options.max_strlen == 100000
    text = outcome('BEGIN { printf("%s\\n", str(0)); }', max_strlen=options.max_strlen)
    assert "BPFTRACE_MAX_STRLEN: 100000 is over the limit of 16384 bytes" in text


def test_max_strlen_well_under_the_limit_compiles():
    assert outcome('config = { max_strlen = 8192 } tracepoint:syscalls:sys_enter_openat '
                   '{ @[str(args->filename)] = count(); }', seconds=30) == "compiled"


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_huge_string_literals_are_refused_quickly(size):
    text = outcome('BEGIN { printf("' + "a" * size + '"); $s = "' + "b" * size + '"; }')  # no hang
    assert "string literal too long (the limit is 4096 bytes)" in text


def test_wildcard_past_max_probes_is_refused_with_the_count_and_a_hint():
    text = outcome("config = { max_probes = 3 } kprobe:* { @[func] = count(); }")
    assert "ERROR: Can't attach to " in text and "exceeds the current limit of 3 probes." in text
    assert "HINT: You can increase the limit through the BPFTRACE_MAX_PROBES environment variable" in text


def test_max_probes_from_the_environment(monkeypatch):
    from pytrace.runtime import driver

    monkeypatch.setenv("BPFTRACE_MAX_PROBES", "2")
    options = fuzzing._options()
    driver.apply_env(options)
    assert "exceeds the current limit of 2 probes" in outcome(
        "tracepoint:syscalls:sys_enter_* { @ = count(); }", max_probes=options.max_probes)


def test_kprobe_star_within_the_limit_compiles():
    assert outcome("kprobe:* { @[func] = count(); }") == "compiled"


def test_uprobe_on_dev_zero_is_one_error():
    text = outcome("uprobe:/dev/zero:f { @ = count(); }", seconds=5)
    assert "uprobe target file '/dev/zero' does not exist or is not executable" in text


def test_elf_reader_refuses_a_device():
    from pytrace.lang import elf

    with pytest.raises(elf.ElfError, match="not a regular file"):
        elf.open_elf("/dev/zero").symbols()


@pytest.mark.parametrize("cut", [0, 4, 16, 63, 64, 200, 4096])
def test_truncated_elf_files_give_one_error(cut):
    seeds = fuzzing.elf_seeds()
    if not seeds:
        pytest.skip("no ELF file on this machine")
    assert fuzzing.check_elf(seeds[0][:cut]) is None


LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def _libraries(directory, count: int) -> str:
    """`count` shared objects (links to libc) in a directory; its glob."""
    for i in range(count):
        (directory / f"lib{i}.so").symlink_to(LIBC)
    return f"{directory}/*"


def test_uprobe_wildcard_naming_more_files_than_the_limit_is_refused_with_the_count(tmp_path):
    """Each candidate's symbol table is read (~10 ms a file): a glob naming
    300 files is refused before any is read, with the count, the limit and a hint."""
    glob = _libraries(tmp_path, 300)
    text = outcome(f"uprobe:{glob}:malloc {{ @ = count(); }}")
    assert f"ERROR: uprobe target '{glob}' names 300 files, more than the limit of 256 files" in text
    assert "HINT: name the binary (uprobe:/path/to/binary:...) or a narrower glob, or give -p PID; the limit " \
           "can be raised through the PYTRACE_MAX_TARGET_FILES environment variable" in text


def test_uprobe_wildcard_within_the_limit_matches_every_file(tmp_path):
    glob = _libraries(tmp_path, 3)
    assert outcome(f"uprobe:{glob}:malloc {{ @ = count(); }}") == "compiled"
    from pytrace.lang.probes import lookup

    found = lookup("uprobe")._candidates(glob, None, False, False)
    assert found == [f"{tmp_path}/lib{i}.so" for i in range(3)]


def test_uprobe_target_files_limit_from_the_environment(tmp_path, monkeypatch):
    glob = _libraries(tmp_path, 3)
    monkeypatch.setenv("PYTRACE_MAX_TARGET_FILES", "2")
    assert "names 3 files, more than the limit of 2 files" in outcome(f"uprobe:{glob}:malloc {{ }}")
    from pytrace.lang.probes import lookup
    from pytrace.lang.probes.base import ProbeError

    with pytest.raises(ProbeError, match="names 3 files"):  # -l: the CLI prints it (runtime/driver.py)
        lookup("uprobe").list_probes_in(f"uprobe:{glob}:*", False, None)
