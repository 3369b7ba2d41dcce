"""The pure side of uprobe/usdt targets: the hardened ELF reader, bpftrace's
wildcard matching and path resolution, library names, attach-point
quoting, USDT constant arguments, and which -l patterns list user probes.
Sample ELF files are this Python interpreter and copies of it; no kernel."""

import os
import shutil
import stat
import struct
import subprocess
import tempfile
import threading

import pytest

from pytrace.lang import binaries, elf
from pytrace.lang.probes import lookup
from pytrace.lang.probes.base import split_attach_point
from pytrace.lang.probes.uprobe import user_listing_search
from pytrace.lang.probes.usdt import parse_arg

def _build_sample() -> str:
    """A small C program with its symbol table (the interpreter may be a stripped
    build, as Debian's /usr/bin/python3 is: no `main` in it)."""
    out = os.path.join(tempfile.mkdtemp(prefix="pytrace-elf-"), "sample")
    src = out + ".c"
    with open(src, "w") as f:
        f.write("int helper(int x) { return x * 2; }\nint main(void) { return helper(1) - 2; }\n")
    subprocess.run(["gcc", "-O0", "-o", out, src], check=True)
    return out


SAMPLE = _build_sample()


@pytest.fixture(scope="module")
def sample_bytes():
    with open(SAMPLE, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- ELF reader

def test_reads_a_real_elf():
    image = elf.ElfFile(SAMPLE)
    assert image.e_type in (elf.ET_EXEC, elf.ET_DYN)
    main = image.function_symbols()["main"]
    assert image.file_offset(main.addr) > 0


@pytest.mark.parametrize("keep", [64, 100, 1000, 4096, -1])
def test_truncated_files_are_one_error(tmp_path, sample_bytes, keep):
    path = tmp_path / "cut"
    path.write_bytes(sample_bytes[:keep])
    with pytest.raises(elf.ElfError, match=f"^{path}: corrupt ELF file \\("):
        image = elf.ElfFile(str(path))
        image.symbols()
        image.usdt_notes()


def _patched(sample_bytes: bytes, offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(sample_bytes)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


@pytest.mark.parametrize("field,fmt,value", [
    (0x20, "<Q", 2**64 - 1),   # e_phoff
    (0x28, "<Q", 2**63),       # e_shoff
    (0x36, "<H", 1),           # e_phentsize too small
    (0x3A, "<H", 2),           # e_shentsize too small
    (0x3C, "<H", 0xFFFF),      # e_shnum
])
def test_corrupt_headers_are_one_error(tmp_path, sample_bytes, field, fmt, value):
    path = tmp_path / "bad"
    path.write_bytes(_patched(sample_bytes, field, fmt, value))
    with pytest.raises(elf.ElfError, match="corrupt ELF file"):
        elf.ElfFile(str(path))


def test_corrupt_symbol_table_is_one_error(tmp_path, sample_bytes):
    image = elf.ElfFile(SAMPLE)
    shoff = struct.unpack_from("<Q", sample_bytes, 0x28)[0]
    shentsize = struct.unpack_from("<H", sample_bytes, 0x3A)[0]
    index = next(i for i, s in enumerate(image.sections) if s.type == elf.SHT_DYNSYM)
    # the section's size (sh_size at +32) far beyond the file
    path = tmp_path / "bad"
    path.write_bytes(_patched(sample_bytes, shoff + index * shentsize + 32, "<Q", 2**62))
    with pytest.raises(elf.ElfError, match="corrupt ELF file"):
        elf.ElfFile(str(path)).symbols()


def test_not_an_elf_file(tmp_path):
    path = tmp_path / "text"
    path.write_text("#!/bin/sh\n" + "echo hi\n" * 20)
    with pytest.raises(elf.ElfError, match=f"^{path} is not an ELF file$"):
        elf.open_elf(str(path))


def test_devices_and_fifos_are_refused_without_reading(tmp_path):
    with pytest.raises(elf.ElfError, match="^/dev/zero is not a regular file$"):
        elf.open_elf("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(binaries.elf_type(str(fifo))), daemon=True)
    worker.start()
    worker.join(5)
    assert outcome == [None]  # returned at once: a FIFO is never opened
    with pytest.raises(elf.ElfError, match="is not a regular file"):
        elf.open_elf(str(fifo))


# ---------------------------------------------------------------- uprobe offsets

def test_uprobe_offset_checks():
    image = elf.open_elf(SAMPLE)
    main = image.function_symbols()["main"]
    assert elf.uprobe_offset(SAMPLE, "main") == image.file_offset(main.addr)
    assert elf.uprobe_offset(SAMPLE, "", address=main.addr) == image.file_offset(main.addr)
    with pytest.raises(elf.ElfError, match=f"^Offset outside the function bounds \\('main' size is {main.size}\\)$"):
        elf.uprobe_offset(SAMPLE, "main", main.size)
    with pytest.raises(elf.ElfError, match=f"^Could not resolve address: {SAMPLE}:0xa$"):
        elf.uprobe_offset(SAMPLE, "", address=10)
    assert elf.uprobe_offset(SAMPLE, "", address=10, unsafe=True) == 10
    assert elf.uprobe_offset("/dev/zero", "", address=0, unsafe=True) == 0  # a flat binary, with --unsafe


# ---------------------------------------------------------------- matching and paths

@pytest.mark.parametrize("text,pattern,matches", [
    ("/bin/a:f", "*:f", True),
    ("/bin/a:f", "/bin/*", True),
    ("/bin/a:f[1]", "*:f[1]", True),   # only `*` is special
    ("/bin/a:fx", "*:f?", False),
    ("./t/usdt_test:tracetest2:testprobe2", "./t/usdt_test:*", True),
    ("abc", "a*c*", True),
])
def test_wildcard_match(text, pattern, matches):
    assert binaries.wildcard_match(text, pattern) is matches


def test_resolve_paths(tmp_path, monkeypatch):
    exe = tmp_path / "prog"
    shutil.copy(SAMPLE, exe)
    exe.chmod(0o755)
    noexec = tmp_path / "prog_noexec"
    shutil.copy(SAMPLE, noexec)
    noexec.chmod(0o644)
    text = tmp_path / "prog.txt"
    text.write_text("x" * 100)
    kind = elf.open_elf(SAMPLE).e_type
    assert binaries.resolve_paths(str(exe)) == [str(exe)]
    # an executable (ET_EXEC) needs its exec bit; a PIE or library (ET_DYN) does not
    assert binaries.resolve_paths(str(noexec)) == ([str(noexec)] if kind == elf.ET_DYN else [])
    assert binaries.resolve_paths(str(text)) == []
    assert binaries.resolve_paths(str(text), unsafe=True) == [str(text)]
    assert binaries.resolve_paths(f"{tmp_path}/prog*") == [str(exe)] + ([str(noexec)] if kind == elf.ET_DYN else [])
    monkeypatch.setenv("PATH", f"/nonexistent:{tmp_path}")
    assert binaries.resolve_paths("prog") == [str(exe)]


def test_which_so_by_loader_cache_and_process(monkeypatch, tmp_path):
    monkeypatch.setattr(binaries, "ld_cache", lambda: (("libfoo.so.2", "/opt/libfoo.so.2"),
                                                       ("libc.so.6", "/lib/libc.so.6")))
    assert binaries.which_so("foo") == "/opt/libfoo.so.2"
    assert binaries.which_so("c.so.6") == "/lib/libc.so.6"
    assert binaries.which_so("/x/libbar.so") == "/x/libbar.so"
    monkeypatch.setattr(binaries, "LIB_DIRS", (str(tmp_path),))
    assert binaries.which_so("nothere") is None
    (tmp_path / "libnothere.so.1").write_bytes(b"")
    assert binaries.which_so("nothere") == str(tmp_path / "libnothere.so.1")


def test_path_in_pid():
    assert binaries.path_in_pid(7, "/usr/bin/x") == "/proc/7/root/usr/bin/x"
    assert binaries.path_in_pid(7, "rel/x") == "/proc/7/root/rel/x"
    assert binaries.path_in_pid(7, "/proc/7/root/x") == "/proc/7/root/x"


# ---------------------------------------------------------------- attach points

def test_quoted_attach_point_parts_take_escapes():
    assert split_attach_point('usdt:./bin:test:"\\"probe1\\""') == ("usdt", ["./bin", "test", '"probe1"'])
    assert split_attach_point('uprobe:"/a:b":f') == ("uprobe", ["/a:b", "f"])


def test_uprobe_attach_point_parsing():
    uprobe, uretprobe = lookup("uprobe"), lookup("uretprobe")
    ap = uprobe.parse(["/bin/x", "f+16"], None)
    assert (ap.target, ap.func, ap.offset, ap.address) == ("/bin/x", "f", 16, None)
    ap = uprobe.parse(["/bin/x", "0x10"], None)
    assert (ap.func, ap.address) == ("", 16)
    for parts, message in [
        (["f"], "uprobe probe type requires 2 or 3 arguments, found 1"),
        (["/bin/x", "f+1+2"], "Cannot take more than one offset"),
        (["/bin/x", "f+zz"], "Invalid offset: zz"),
        (["/bin/*", "0x10"], "Cannot use wildcards with absolute address"),
        (["/bin/x", "rust", "f"], "unsupported language type: rust"),
    ]:
        with pytest.raises(Exception, match=f"^{message}$".replace("+", "\\+").replace("*", "\\*")):
            uprobe.parse(parts, None)
    with pytest.raises(Exception, match="^Offset not allowed$"):
        uretprobe.parse(["/bin/x", "f+1"], None)


def test_usdt_attach_point_parsing():
    usdt = lookup("usdt")
    assert usdt.parse(["/bin/x", "p"], None) == ("/bin/x", "", "p")
    assert usdt.parse(["/bin/x", "prov", "p"], None) == ("/bin/x", "prov", "p")
    assert usdt.parse(["", "prov", "p"], 42) == ("", "prov", "p")
    assert usdt.parse(["p"], 42) == ("", "", "p")
    with pytest.raises(Exception, match="^usdt probe must specify at least path or pid to probe"):
        usdt.parse(["", "prov", "p"], None)
    with pytest.raises(Exception, match="^usdt probe type requires 2 or 3 arguments, found 1$"):
        usdt.parse(["p"], None)


@pytest.mark.parametrize("spec,value", [
    ("-8@$-579005069656919568", -579005069656919568),
    ("4@$-202182160", 4092785136),       # an unsigned constant at its size
    ("-4@$-202182160", -202182160),
    ("2@$-3600", 61936),
    ("-2@$-3600", -3600),
    ("1@$-16", 240),
    ("-1@$240", -16),
])
def test_usdt_constant_arguments(spec, value):
    assert parse_arg(spec).const == value


@pytest.mark.parametrize("provider,pattern,pid,expected", [
    ("uprobe", "uprobe:/bin/x:f*", None, ("/bin/x", "/bin/x:f*")),
    ("uprobe", "uprobe:*", 5, ("*", "*:*")),
    ("uprobe", "*", 5, ("*", "*:*")),
    ("uprobe", "*", None, None),              # no process, no file: kernel probes only
    ("uretprobe", "*", 5, None),              # return probes are never listed by wildcard
    ("uretprobe", "uretprobe:/bin/x:f", None, ("/bin/x", "/bin/x:f")),
    ("usdt", "usdt:*:prov:*", 5, ("*", "*:prov:*")),
    ("usdt", "kprobe:f", 5, None),
])
def test_listing_search(provider, pattern, pid, expected):
    assert user_listing_search(lookup(provider), pattern, pid) == expected
