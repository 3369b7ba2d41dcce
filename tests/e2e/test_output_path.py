"""The printf output path: every event delivered, in order and exact, through
the compiled formatters and batched writes; and events appear while the
program runs, not at its end (output is flushed after each drain)."""

import os
import select
import subprocess
import sys
import time

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.kernel

BASE = 1000000000
# getpgid(10**9 + i) fails at once (no such process), after the tracepoint.
BURST = py_workload(f"import os\nfor i in range(50000):\n    try: os.getpgid({BASE} + i)\n    except OSError: pass\n")


def test_a_burst_of_printf_events_is_delivered_whole_and_in_order():
    # 50k records (about 2 MB) fit in the 4 MiB ring buffer even if the reader stalls: none may be lost
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ "
                    f'{{ printf("%-6s|%8d|%x\\n", "ev", args.pid - {BASE}, args.pid - {BASE}); }}',
                    "-c", BURST, timeout=120)
    assert r.rc == 0, r
    assert "Lost" not in r.err
    assert r.out == "".join(f"ev    |{i:8d}|{i:x}\n" for i in range(50000)) + "\n\n"


def test_events_appear_while_the_program_runs():
    workload = py_workload(f"import os, time\ntry: os.getpgid({BASE} + 7)\nexcept OSError: pass\ntime.sleep(4)\n")
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", "-e",
                             f'tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ {{ printf("got %d\\n", args.pid - {BASE}); }}',
                             "-c", workload], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    try:
        start = time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], 3.5)
        assert ready, "no output while the child was still running"
        assert proc.stdout.readline() == b"got 7\n"
        assert time.monotonic() - start < 3.5 and proc.poll() is None
    finally:
        proc.wait(timeout=30)


# A keyless count lives in a per-CPU array (codegen/map_types.py); it prints as the hash it replaces.
@pytest.mark.parametrize("body,expected", [
    ("@ = count(); @n = count();", "\n\n@: 5\n@n: 5\n"),
    ("@ = count(); if ((int64)@ == 5) { zero(@); }", "\n\n@: 0\n"),           # zero() keeps the entry
    ("@ = count(); if ((int64)@ == 5) { zero(@); clear(@); }", "\n\n"),        # clear() removes it
    ("@ = count(); if ((int64)@ == 5) { clear(@); }", "\n\n"),
])
def test_keyless_counts_print_as_before(body, expected):
    calls = py_workload(f"import os\nfor i in range(5):\n    try: os.getpgid({BASE} + i)\n    except OSError: pass\n")
    r = run_pytrace("-q", "-e", f"tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ {{ {body} }}", "-c", calls)
    assert r.rc == 0 and r.out == expected, r


def test_a_count_never_incremented_prints_nothing():
    r = run_pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_getppid /pid == 1/ { @ = count(); } "
                    "BEGIN { zero(@); exit(); }")
    assert r.rc == 0 and r.out == "\n\n", r
