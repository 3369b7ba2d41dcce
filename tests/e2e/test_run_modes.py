"""How a run starts and ends: output as it happens, runs with only begin/end,
SIGUSR1 and self:signal probes, --test, --bench, --probe-filter, config
settings read at run time, and the command line's checks."""

import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import run_pytrace

G, R, E = "\033[32m", "\033[31m", "\033[0m"


def _start(*args: str) -> subprocess.Popen:
    """pytrace running, its probes attached (as the "Attached N probes" line
    on stderr says, or on stdout in JSON)."""
    env = dict(os.environ, PYTRACE_NO_CACHE="1")
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    line = (proc.stdout if "json" in args else proc.stderr).readline()
    assert b"ttached" in line, line
    return proc


# ------------------------------------------------------------ no kernel needed
@pytest.mark.parametrize("pid, message", [
    ("a1111", "Failed to parse pid: invalid integer: a1111"),
    ("111a1", "Failed to parse pid: invalid trailing bytes: 111a1"),
    ("not_a_pid", "Failed to parse pid: invalid integer: not_a_pid"),
    ("5000000", "Pid out of range: 5000000"),
])
def test_pid_is_checked_as_bpftrace_checks_it(pid, message):
    r = run_pytrace("-p", pid, "-e", "begin { print(1); }")
    assert (r.rc, r.out, r.err) == (1, "", f"ERROR: {message}\n")


@pytest.mark.parametrize("args, message", [
    (["-B", "some"], "USAGE: -B must be either 'line', 'full', or 'none'."),
    (["-k", "--no-warnings"], "USAGE: -k, --warnings conflicts with --no-warnings"),
    (["-kk"], "USAGE: -kk has been deprecated. Use a single -k for runtime warnings for errors in map "
              "lookups and probe reads."),
    (["--mode", "nope"], "USAGE: --mode can only be 'codegen', 'compiler-bench', 'bench', 'test' or 'format'."),
    (["--mode", "test", "--bench"], "USAGE: --bench conflicts with existing --mode"),
    (["-c", "true", "-p", "1"], "USAGE: Cannot use both -c and -p."),
])
def test_option_conflicts(args, message):
    r = run_pytrace(*args, "-e", "begin { }")
    assert (r.rc, r.err) == (1, f"ERROR: {message}\n")


def test_invalid_probe_filter_regex():
    r = run_pytrace("--probe-filter", "[invalid", "-e", "begin { }")
    assert r.rc == 1 and r.err.startswith("ERROR: Invalid --probe-filter regex '[invalid': ")


# ------------------------------------------------------------ runs
@pytest.mark.kernel
def test_begin_only_run_ends_after_its_output():
    r = run_pytrace("-e", 'begin { printf("%x", 255); @n = 2; } end { printf("|end"); }', timeout=20)
    assert (r.rc, r.out, r.err) == (0, "ff|end\n\n@n: 2\n", "Attached 2 probes\n")


@pytest.mark.kernel
@pytest.mark.parametrize("fmt, first", [("text", b"1"), ("json", b'{"type": "printf", "data": "1"}')])
def test_output_without_newline_arrives_while_running(fmt, first):
    proc = _start("-f", fmt, "-e", 'begin { printf("%x", 1); } interval:ms:100 { }')
    try:
        assert proc.stdout.read(len(first)) == first  # before the run ends
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


@pytest.mark.kernel
def test_self_signal_probes_run_on_sigusr1_in_order():
    proc = _start("-e", 'self:signal:SIGUSR1 { printf("first"); } '
                        'self:signal:SIGUSR1 { printf(" second\\n"); @s++; if (@s == 2) { exit(); } }')
    proc.send_signal(signal.SIGUSR1)
    assert proc.stdout.readline() == b"first second\n"
    proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=20)
    assert (proc.returncode, out, err) == (0, b"first second\n\n\n@s: 2\n", b"")


@pytest.mark.kernel
@pytest.mark.skipif(shutil.which("pidof") is None, reason="needs pidof")
def test_found_by_its_name_as_bpftrace_is(tmp_path):
    """`kill -s USR1 $(pidof NAME)` finds the run: its command line is the command as invoked
    (here a symlink to the pytrace script), not `python3 SCRIPT`, and its name is the command's."""
    exe = os.path.join(os.path.dirname(sys.executable), "pytrace")
    if not os.path.exists(exe):
        pytest.skip("no pytrace script beside the interpreter")
    link = tmp_path / "pyt_by_name"
    link.symlink_to(exe)
    program = 'self:signal:SIGUSR1 { print("signal handler"); exit(); }'
    proc = subprocess.Popen([str(link), "-e", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    try:
        assert b"Attached 1 probe" in proc.stderr.readline()
        pids = subprocess.run(["pidof", "pyt_by_name"], capture_output=True, text=True).stdout.split()
        assert pids == [str(proc.pid)]
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            assert f.read().rstrip(b"\0").split(b"\0") == [os.fsencode(link), b"-e", program.encode()]
        with open(f"/proc/{proc.pid}/comm", "rb") as f:
            assert f.read() == b"pyt_by_name\n"
        os.kill(int(pids[0]), signal.SIGUSR1)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, out, err) == (0, b"signal handler\n\n\n", b"")


@pytest.mark.kernel
def test_unsupported_signal_and_trigger():
    r = run_pytrace("-e", "self:signal:SIGUSR2 { }")
    assert r.rc == 1 and r.err.startswith("stdin:1:1-20: ERROR: SIGUSR2 is not a supported signal\n")
    r = run_pytrace("-e", "self:timer:SIGUSR1 { }")
    assert r.rc == 1 and r.err.startswith("stdin:1:1-19: ERROR: timer is not a supported trigger\n")


@pytest.mark.kernel
def test_tests_run_with_test_flag():
    program = ('begin { printf("begin\\n"); } test:good { printf("hidden\\n"); } '
               'test:bad { printf("shown\\n"); exit(1); } end { printf("end\\n"); }')
    r = run_pytrace("--test", "-e", program)
    out = re.sub(r"\(\d+ (s|ms|μs|ns)\)", "(T)", r.out)
    assert (r.rc, r.err) == (1, "")
    assert out == ("begin\n"
                   f"{G}[==========]{E} Running 2 tests.\n"
                   f"{G}[ RUN      ]{E} good\n"
                   f"{G}[       OK ]{E} good (T)\n"
                   f"{G}[ RUN      ]{E} bad\n"
                   "shown\n"
                   f"{R}[  FAILED  ]{E} bad (T)\n"
                   f"{G}[==========]{E} 2 tests ran.\n"
                   f"{G}[  PASSED  ]{E} 1 test.\n"
                   f"{R}[  FAILED  ]{E} 1 test, listed below:\n"
                   f"{R}[  FAILED  ]{E} bad\n"
                   "end\n\n\n")
    r = run_pytrace("-e", "test:good { }")
    assert (r.rc, r.err) == (1, "ERROR: No probes attached; use --test to run test probes.\n")


@pytest.mark.kernel
def test_benchmarks_run_with_bench_flag():
    r = run_pytrace("--bench", "-e", "bench:a { @a = count(); } bench:bb { @b = count(); } end { clear(@a); clear(@b); }")
    assert (r.rc, r.err) == (0, "")
    assert re.fullmatch(r"Benchmark {32}Time\(ns\) {7}Iterations\n-{66}\n"
                        r"a {40}\d+ +\d+\nbb {39}\d+ +\d+\n\n\n", r.out), r.out
    r = run_pytrace("-q", "-f", "json", "--mode", "bench", "-e", "bench:a { }")
    assert re.fullmatch(r'\{"type": "benchmark_result", "data": \{"a": \{"average": \d+, "iters": \d+\}\}\}\n',
                        r.out), r.out


@pytest.mark.kernel
def test_probe_filter_keeps_begin_end_and_matching_probes():
    r = run_pytrace("--probe-filter", "interval:ms:(200|300)", "-e",
                    'begin { printf("begin\\n"); } interval:ms:100 { printf("bad\\n"); exit(); } '
                    'interval:ms:200 { printf("a\\n"); } interval:ms:300 { printf("b\\n"); exit(); } '
                    'end { printf("end\\n"); }', timeout=20)
    assert r.rc == 0 and r.err == "Attached 4 probes\n"
    # under load a second 200 ms tick can land before exit() takes effect
    assert re.fullmatch(r"begin\na\n(a\n)?b\n(a\n)?end\n\n\n", r.out), r
    r = run_pytrace("--probe-filter", "nothing_matches", "-e", "interval:ms:100 { }")
    assert (r.rc, r.out) == (1, "No probes to attach\n")


@pytest.mark.kernel
def test_print_maps_on_exit_and_stack_mode_config():
    r = run_pytrace("-e", 'config = { print_maps_on_exit = false } begin { @a["x"] = count(); @b = 1; }')
    assert (r.rc, r.out) == (0, "\n\n")
    r = run_pytrace("-e", "config = { stack_mode = raw } begin { print(kstack(1)); }")
    assert r.rc == 0 and re.fullmatch(r"\n[0-9a-f]+\n\n\n\n", r.out), r.out
    r = run_pytrace("-e", "begin { print(kstack(1)); }", env={"BPFTRACE_STACK_MODE": "perf"})
    assert r.rc == 0 and re.fullmatch(r"\n\t[0-9a-f]+ \S+\+\d+\n\n\n\n", r.out), r.out


@pytest.mark.kernel
def test_list_warns_about_a_missing_file():
    r = run_pytrace("-l", "no_such_script.bt")
    assert r.err == ("WARNING: It appears that 'no_such_script.bt' is a filename but the file does not exist. "
                     "Treating 'no_such_script.bt' as a search pattern.\n")


@pytest.mark.kernel
def test_info_claims_only_what_works_here():
    r = run_pytrace("--info")
    assert r.rc == 0 and "kprobe_session: no\n" in r.out and "libdw (DWARF support): yes\n" in r.out
    assert "  iter: yes\n" in r.out  # this kernel accepts iterator programs (tests/kernel/test_iter.py)


@pytest.mark.kernel
def test_begin_and_end_in_one_attach_list_run_twice():
    r = run_pytrace("-e", 'begin,end { printf("Hello\\n"); exit(); }')
    assert (r.rc, r.out) == (0, "Hello\nHello\n\n\n")


@pytest.mark.kernel
@pytest.mark.parametrize("ending", ["exit", "signal"])
def test_the_c_child_gets_sigterm_when_the_run_ends(tmp_path, ending):
    """exit() or a signal ends the run while the -c child still runs: it gets SIGTERM (before END)."""
    marker = tmp_path / "terminated"
    child = (f"import signal, sys, time\n"
             f"def bye(*_):\n    open({str(marker)!r}, 'w').write('TERM')\n    sys.exit(0)\n"
             f"signal.signal(signal.SIGTERM, bye)\nopen({str(tmp_path / 'ready')!r}, 'w').close()\n"
             f"time.sleep(60)\n")
    (tmp_path / "child.py").write_text(child)
    stop = ("interval:ms:100 { if (cpid > 0) { exit(); } }" if ending == "exit" else
            "interval:s:60 { exit(); }")
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", "-e", stop + ' end { printf("end\\n"); }',
                             "-c", f"{sys.executable} {tmp_path / 'child.py'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    if ending == "signal":
        while not (tmp_path / "ready").exists() and proc.poll() is None:
            subprocess.run(["sleep", "0.1"])
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=50)
    assert proc.returncode == 0, (out, err)
    assert marker.read_text() == "TERM", (out, err)
    assert out.startswith("end\n"), (out, err)
