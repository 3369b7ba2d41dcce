"""End-to-end: which binaries uprobe and usdt attach points name, as bpftrace
resolves them: globs, the -p process's mapped objects (`uprobe:*:f`,
`usdt:*:p`, shared libraries, another mount namespace through
/proc/PID/root), a USDT name shared by providers and locations, uaddr() in
PIE and non-PIE builds, `-l` listings, and the errors for files that are no
probe target. The target is tests/e2e/fixtures/user_targets.c linked with
libpytut.so (user_targets_lib.c); outputs are exact."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_pytrace

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    """ut (PIE), ut_nopie and libpytut.so (found through the rpath $ORIGIN
    only: the loader's cache does not know it)."""
    d = tmp_path_factory.mktemp("ut")
    lib = os.path.join(FIXTURES, "user_targets_lib.c")
    main = os.path.join(FIXTURES, "user_targets.c")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(d / "libpytut.so"), lib], check=True)
    for name, flags in (("ut", ["-pie", "-fPIE"]), ("ut_nopie", ["-no-pie"])):
        subprocess.run(["gcc", "-O2", *flags, "-o", str(d / name), main, f"-L{d}", "-lpytut",
                        "-Wl,-rpath,$ORIGIN"], check=True)
    return str(d)


class Waiting:
    """user_targets N wait, started (optionally through a prefix command
    such as unshare) and released by go()."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
        self.pid = self.proc.pid

    def trace(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "pytrace", "-p", str(self.pid), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTRACE_NO_CACHE="1"))

    def go(self) -> None:
        self.proc.stdin.write(b"g")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _ready(bindir: str, argv: list[str]) -> Waiting:
    """Start the target and wait until it has mapped libpytut.so."""
    w = Waiting(argv)
    for _ in range(200):
        try:
            with open(f"/proc/{w.pid}/maps") as f:
                if "libpytut.so" in f.read():
                    return w
        except OSError:
            pass
        subprocess.run(["sleep", "0.02"])
    w.close()
    raise AssertionError("target did not start")


def _traced(w: Waiting, program: str) -> tuple[str, str, int]:
    tracer = w.trace("-e", program)
    try:
        first = tracer.stderr.readline()
        assert first.startswith("Attached"), (first, tracer.stderr.read())
        w.go()
        out, err = tracer.communicate(timeout=60)
    finally:
        w.close()
        if tracer.poll() is None:
            tracer.kill()
    return out, first + err, tracer.returncode


# ---------------------------------------------------------------- usdt: providers and locations

def test_usdt_name_in_two_providers_and_two_locations(bindir):
    """A name shared by two providers attaches to both; a probe with two
    locations (whose arguments live in different registers) is one probe."""
    ut = os.path.join(bindir, "ut")
    prog = (f"usdt:{ut}:shared {{ @[probe] = sum(arg1); }} usdt:{ut}:pyta:tick {{ @t = sum(arg0); }} "
            f"usdt:{ut}:pyta:guarded {{ @g = count(); }}")
    r = run_pytrace("-e", prog, "-c", f"{ut} 3")
    assert r.rc == 0, r
    assert r.err == "Attached 4 probes\n", r
    assert r.out == (f"\n\n@[usdt:{ut}:pyta:shared]: 3\n@[usdt:{ut}:pytb:shared]: 6\n"
                     f"@g: 3\n@t: 306\n"), r


def test_usdt_wildcard_provider_and_file_glob(bindir):
    prog = f"usdt:{bindir}/ut*::sh* {{ @[probe] = sum(arg1); }}"
    r = run_pytrace("-e", prog, "-c", f"{bindir}/ut_nopie 2")
    assert r.rc == 0, r
    assert r.err == "Attached 4 probes\n", r  # two providers in each of ut and ut_nopie
    assert r.out == (f"\n\n@[usdt:{bindir}/ut_nopie:pyta:shared]: 2\n"
                     f"@[usdt:{bindir}/ut_nopie:pytb:shared]: 4\n"), r


def test_list_usdt_and_uprobe_by_file_and_glob(bindir):
    r = run_pytrace("-l", f"usdt:{bindir}/ut:*")
    assert r.out == "".join(f"usdt:{bindir}/ut:{p}\n" for p in
                            ("pyta:guarded", "pyta:shared", "pyta:tick", "pytb:shared")), r
    r = run_pytrace("-l", f"usdt:{bindir}/ut*:pytb:*")
    assert r.out == f"usdt:{bindir}/ut:pytb:shared\nusdt:{bindir}/ut_nopie:pytb:shared\n", r
    r = run_pytrace("-l", f"uprobe:{bindir}/*:pyt_*")
    assert r.out == (f"uprobe:{bindir}/libpytut.so:pyt_lib_twice\nuprobe:{bindir}/ut:pyt_step\n"
                     f"uprobe:{bindir}/ut_nopie:pyt_step\n"), r
    # a wildcard probe type lists user probes of an existing file, never uretprobes
    r = run_pytrace("-l", f"*:{bindir}/libpytut.so:*twice")
    assert r.out == f"uprobe:{bindir}/libpytut.so:pyt_lib_twice\nusdt:{bindir}/libpytut.so:pytlib:twice\n", r


# ---------------------------------------------------------------- uaddr in PIE and non-PIE builds

@pytest.mark.parametrize("name", ["ut", "ut_nopie"])
def test_uaddr_follows_the_load_address(bindir, name):
    binary = os.path.join(bindir, name)
    prog = (f'uprobe:{binary}:pyt_step {{ @u = sum(*uaddr("pyt_counter")); }} '
            f'uretprobe:{binary}:pyt_step {{ @r = sum(*uaddr("pyt_counter")); }} '
            f'usdt:{binary}:pyta:tick {{ @t = sum(*uaddr("pyt_counter")); }}')
    r = run_pytrace("-e", prog, "-c", f"{binary} 2")
    assert r.rc == 0, r
    assert r.out == "\n\n@r: 14003\n@t: 28006\n@u: 14001\n", r  # 7000 + 7001, then 7001 + 7002


# ---------------------------------------------------------------- -p: the process's objects

def test_pid_wildcard_target_and_library_probes(bindir):
    """`uprobe:*:f` and `usdt:*:p` with -p search every object the process
    maps, so the library (unknown to the loader's cache) is found."""
    w = _ready(bindir, [os.path.join(bindir, "ut"), "4", "wait"])
    out, err, rc = _traced(w, "uprobe:*:pyt_lib_twice { @f = sum(arg0); } usdt:*:pytlib:twice { @u = count(); } "
                              "uprobe:libpytut:pyt_lib_twice { @n = count(); } usdt::pyta:tick { @t = count(); }")
    assert rc == 0, err
    assert err == "Attached 4 probes\n", err
    assert out == "\n\n@f: 6\n@n: 4\n@t: 8\n@u: 4\n", out


def test_list_by_pid(bindir):
    w = _ready(bindir, [os.path.join(bindir, "ut"), "1", "wait"])
    try:
        root = f"/proc/{w.pid}/root"
        r = run_pytrace("-l", "usdt:*", "-p", str(w.pid))
        assert r.rc == 0, r
        lines = r.out.splitlines()
        assert f"usdt:{root}{bindir}/libpytut.so:pytlib:twice" in lines, r
        assert [line for line in lines if line.startswith(f"usdt:{root}{bindir}/ut:")] == [
            f"usdt:{root}{bindir}/ut:{p}" for p in ("pyta:guarded", "pyta:shared", "pyta:tick", "pytb:shared")]
        r = run_pytrace("-l", "uprobe:*:pyt_*", "-p", str(w.pid))
        assert r.out == f"uprobe:{root}{bindir}/libpytut.so:pyt_lib_twice\nuprobe:{root}{bindir}/ut:pyt_step\n", r
        r = run_pytrace("-l", "-p", str(w.pid))
        assert f"uprobe:{root}{bindir}/ut:pyt_step" in r.out.splitlines(), r
        assert not any(line.startswith("uretprobe:") for line in r.out.splitlines()), r
    finally:
        w.close()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_target_in_another_mount_namespace(bindir, tmp_path):
    """The binary exists only inside the process's own mount namespace:
    with -p it is found through /proc/PID/root, without -p by that path."""
    hidden = tmp_path / "ns"
    hidden.mkdir()
    script = (f"mount -t tmpfs pyt {hidden} && cp {bindir}/ut {bindir}/libpytut.so {hidden}/ && "
              f"exec {hidden}/ut 3 wait")
    w = _ready(bindir, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    try:
        assert not os.path.exists(hidden / "ut")
        root = f"/proc/{w.pid}/root"
        r = run_pytrace("-l", f"uprobe:{root}{hidden}/ut:pyt_*")
        assert r.out == f"uprobe:{root}{hidden}/ut:pyt_step\n", r
    except BaseException:
        w.close()
        raise
    out, err, rc = _traced(w, f'uprobe:{hidden}/ut:pyt_step {{ @[probe] = count(); }} '
                              f'usdt:{hidden}/ut:pyta:shared {{ @s = count(); }}')
    assert rc == 0, err
    assert out == f"\n\n@[uprobe:{root}{hidden}/ut:pyt_step]: 3\n@s: 3\n", out


# ---------------------------------------------------------------- errors

def test_files_that_are_no_probe_target(bindir, tmp_path):
    r = run_pytrace("-e", "uprobe:/dev/zero:f {}")
    assert r.rc == 1, r
    assert r.err == ("stdin:1:1-19: ERROR: uprobe target file '/dev/zero' does not exist or is not executable\n"
                     "uprobe:/dev/zero:f {}\n~~~~~~~~~~~~~~~~~~\n"), r
    r = run_pytrace("--unsafe", "-e", "uprobe:/dev/zero:f {}", timeout=20)
    assert r.err.splitlines()[0] == "stdin:1:1-19: ERROR: /dev/zero is not a regular file", r
    truncated = tmp_path / "truncated"
    with open(os.path.join(bindir, "ut"), "rb") as f:
        truncated.write_bytes(f.read(200))
    truncated.chmod(0o755)
    r = run_pytrace("-e", f"uprobe:{truncated}:main {{}}")
    assert r.err.splitlines()[0].endswith(
        f"ERROR: {truncated}: corrupt ELF file (program header beyond the end of the file)"), r
    r = run_pytrace("-e", f"usdt:{truncated}:p {{}}")
    assert r.err.splitlines()[0].endswith(
        f"ERROR: {truncated}: corrupt ELF file (program header beyond the end of the file)"), r


def test_zero_size_symbol_needs_unsafe(bindir):
    ut = os.path.join(bindir, "ut")
    r = run_pytrace("-e", f"uprobe:{ut}:_init {{ exit(); }}")
    assert r.rc == 1, r
    assert r.err == ("ERROR: Could not determine boundary for _init (symbol has size 0).\n"
                     "Use --unsafe to force attachment. WARNING: This option could lead to data corruption "
                     "in the target process.\n"), r
    r = run_pytrace("--unsafe", "-e", f"uprobe:{ut}:_init {{ @ = count(); }}", "-c", f"{ut} 1")
    assert r.rc == 0, r
    assert r.out == "\n\n@: 1\n", r


def test_missing_probes_config(bindir):
    ut = os.path.join(bindir, "ut")
    prog = f"uprobe:{ut}:pyt_step,uprobe:{ut}:nothere {{ @ = count(); }}"
    r = run_pytrace("-e", prog, "-c", f"{ut} 2")
    assert r.rc == 1 and f"ERROR: No matches for uprobe {ut}:nothere.\n" in r.err, r
    r = run_pytrace("-e", 'config = { missing_probes = "warn" } ' + prog, "-c", f"{ut} 2")
    assert r.rc == 0, r
    assert f"WARNING: No matches for uprobe {ut}:nothere. Skipping.\n" in r.err, r
    assert r.out == "\n\n@: 2\n", r
    r = run_pytrace("-e", "config = { missing_probes = ignore } " + prog, "-c", f"{ut} 2")
    assert r.rc == 0 and r.err == "Attached 1 probe\n", r
