"""The command line: options, program input, debug stages."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import run_pytrace


def test_help_and_version():
    r = run_pytrace("--help")
    assert r.rc == 0 and r.out.startswith("pytrace - a bpftrace-compatible tracing language")
    assert "--verify-only" in r.out and "--dry-run" in r.out
    r = run_pytrace("--version")
    assert r.rc == 0 and r.out.startswith("pytrace v")


def test_bad_options_are_usage_errors():
    r = run_pytrace("-f", "xml", "-e", "BEGIN {}")
    assert r.rc == 1 and r.err.startswith('ERROR: Invalid output format "xml"')
    r = run_pytrace("-d", "nonsense", "-e", "BEGIN {}")
    assert r.rc == 1 and "invalid option for -d: nonsense" in r.err
    r = run_pytrace("/no/such/file.bt")
    assert r.rc == 1 and r.err.startswith("ERROR: failed to open file '/no/such/file.bt'")


def test_syntax_error_is_a_diagnostic_not_a_traceback():
    r = run_pytrace("-e", "BEGIN { @x = ; }")
    assert r.rc == 1
    assert r.err.startswith("stdin:1:14-15: ERROR: syntax error")
    assert "Traceback" not in r.err


@pytest.mark.kernel  # this machine's tracefs
def test_debug_ast_and_ir():
    r = run_pytrace("-d", "ast", "-e", "BEGIN { @x = 1 + 2; }")
    assert r.rc == 0, r
    assert r.out == ("Program\n  Probe\n    AttachPoint 'BEGIN'\n    Block\n      Assign\n        Map '@x'\n"
                     "        Integer 3 ''\n")  # literals folded, as bpftrace folds them
    r = run_pytrace("-d", "types", "-e", "BEGIN { @x = pid; }")
    assert "Builtin 'pid' :: uint32" in r.out
    r = run_pytrace("--dry-run", "-d", "ir", "-e", "tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); }")
    assert r.rc == 0, r
    for name in ("%ctx", "@llvm.bpf.pseudo", "%map_c", "%comm", "%lookup_c"):
        assert name in r.out, name


@pytest.mark.kernel  # this machine's tracefs
def test_list_tracepoints_and_fields():
    r = run_pytrace("-l", "tracepoint:syscalls:sys_enter_getpp*")
    assert r.rc == 0 and r.out == "tracepoint:syscalls:sys_enter_getppid\n"
    r = run_pytrace("-lv", "t:syscalls:sys_enter_openat")
    assert r.out.startswith("tracepoint:syscalls:sys_enter_openat\n")
    assert "    const char * filename;\n" in r.out


@pytest.mark.kernel
def test_program_from_stdin_file_and_shebang(tmp_path):
    prog = 'BEGIN { printf("hi %s\\n", str($1)); exit(); }'
    r = run_pytrace("-", "there", stdin=prog)
    assert r.rc == 0 and r.out.startswith("hi there\n"), r
    script = tmp_path / "hello.bt"
    script.write_text("#!/usr/bin/env pytrace\n// a comment\n" + prog + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    r = run_pytrace(str(script), "file")
    assert r.rc == 0 and r.out.startswith("hi file\n"), r
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"],
               PYTRACE_NO_CACHE="1")
    proc = subprocess.run([str(script), "shebang"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("hi shebang\n"), proc.stderr


@pytest.mark.kernel
def test_output_file_and_quiet(tmp_path):
    out = tmp_path / "out.txt"
    r = run_pytrace("-q", "-o", str(out), "-e", 'BEGIN { printf("to file\\n"); @n = 3; exit(); }')
    assert r.rc == 0 and r.out == "" and r.err == ""
    assert out.read_text() == "to file\n\n\n@n: 3\n"


@pytest.mark.kernel
def test_verifier_log_with_debug_verifier():
    r = run_pytrace("--verify-only", "-d", "verifier", "-e", "BEGIN { @x = 1; }")
    assert r.rc == 0, r
    assert "; verifier log for" in r.err and "processed" in r.err


@pytest.mark.kernel
def test_map_the_kernel_refuses_is_a_plain_error():
    r = run_pytrace("-e", "BEGIN { @big[1] = 1; exit(); }", env={"BPFTRACE_MAX_MAP_KEYS": "2000000000"})
    assert r.rc == 1, r
    assert r.err.startswith("ERROR: the kernel refused to create map @big (2000000000 entries"), r
    assert "Traceback" not in r.err


@pytest.mark.kernel
def test_verbose_loads_with_a_verifier_log_of_log_size():
    prog = 'begin { if (str($1) == str($2)) { printf("%s\\n", str($1)); exit() } }'
    r = run_pytrace("-v", "-e", prog, "a", "a", env={"BPFTRACE_LOG_SIZE": "2"})
    assert r.rc == 1, r
    assert r.err.startswith("ERROR: Error loading BPF program for begin_1. Error code: -28 "
                            "(No space left on device).\nKernel error log: \n"), r
    assert "\nWARNING: Kernel log seems to be trimmed. This may be due to buffer not being big enough, try " \
           "increasing the BPFTRACE_LOG_SIZE environment variable beyond the current value of 2 bytes." in r.err, r
    r = run_pytrace("-v", "-e", "config = { log_size = 10000000 } " + prog, "a", "a")
    assert r.rc == 0 and r.out.startswith("a\n"), r
    r = run_pytrace("-e", "config = { log_size = 2 } " + prog, "a", "a")  # without -v no log is asked for
    assert r.rc == 0 and r.out.startswith("a\n"), r


@pytest.mark.kernel
def test_a_repeated_command_line_runs_from_the_cache_as_the_first_time(tmp_path):
    """The second run of a command line takes its parsed options and compiled program from
    the cache (runtime/cache.py); what it prints is the same. A changed script file is
    compiled again, and a command line it has not seen is parsed."""
    env = {"PYTRACE_NO_CACHE": "0", "XDG_CACHE_HOME": str(tmp_path)}
    script = tmp_path / "tool.bt"
    script.write_text('BEGIN { printf("v1 %s %d %d\\n", str($1), $2, getopt("x", 0)); @[$1] = count(); exit(); }')
    argv = (str(script), "a", "2", "-c", "/bin/true", "--", "--x=1")
    runs = [run_pytrace(*argv, env=env) for _ in range(2)]
    assert runs[0].rc == runs[1].rc == 0, runs
    assert runs[0].out == runs[1].out and runs[0].out.startswith("v1 a 2 1\n") and "@[a]: 1" in runs[0].out
    assert runs[0].err == runs[1].err
    assert len(list((tmp_path / "pytrace").glob("argv-*.args"))) == 1
    assert len(list((tmp_path / "pytrace").glob("*.artifact"))) == 1
    script.write_text('BEGIN { printf("v2 %s %d\\n", str($1), getopt("x", 0)); exit(); }')
    r = run_pytrace(*argv, env=env)
    assert r.rc == 0 and r.out.startswith("v2 a 1\n"), r
    r = run_pytrace(*argv[:-2], "-q", env=env)  # another command line: parsed, then remembered
    assert r.rc == 0 and r.out.startswith("v2 a 0\n") and r.err == "", r
    assert len(list((tmp_path / "pytrace").glob("argv-*.args"))) == 2
    bad = run_pytrace("-p", "x", "-e", "BEGIN { exit(); }", env=env)  # refused: never remembered
    assert bad.rc == 1 and "Failed to parse pid" in bad.err
    assert len(list((tmp_path / "pytrace").glob("argv-*.args"))) == 2
