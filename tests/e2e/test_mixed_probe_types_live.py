"""End-to-end: one probe listing attach points of several probe types
(tracepoint with interval, software, profile and BEGIN) runs one program per
type, all sharing the body's maps."""

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.kernel

GETPPID_5 = py_workload("import os, time\nfor _ in range(5): os.getppid()\ntime.sleep(0.2)")
BUSY = py_workload("import os, time\nend = time.time() + 0.3\nwhile time.time() < end: pass\n"
                   "for _ in range(3): os.getppid()")


def test_tracepoint_and_interval_in_one_probe():
    r = run_pytrace("-e", 'tracepoint:syscalls:sys_enter_getppid, interval:ms:10 '
                          '/pid == cpid || probe == "interval:ms:10"/ '
                          '{ if (probe == "interval:ms:10") { @tick = 1; } else { @calls = count(); } }',
                    "-c", GETPPID_5)
    assert r.rc == 0, r
    assert r.err == "Attached 2 probes\n", r
    assert r.out == "\n\n@calls: 5\n@tick: 1\n", r


def test_tracepoint_software_and_profile_share_the_maps():
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid, software:cpu-clock:100000, profile:hz:997 "
                          "/pid == cpid/ { @[probe] = 1; @n = count(); }",
                    "-c", BUSY)
    assert r.rc == 0, r
    assert r.err == "Attached 3 probes\n", r
    lines = r.out.splitlines()
    assert sorted(lines[2:5]) == ["@[profile:hz:997]: 1", "@[software:cpu-clock:100000]: 1",
                          "@[tracepoint:syscalls:sys_enter_getppid]: 1"], r
    assert int(lines[-1].split(": ")[1]) > 3, r


def test_begin_listed_with_a_tracepoint():
    r = run_pytrace("-e", 'BEGIN, tracepoint:syscalls:sys_enter_getppid /probe == "begin" || pid == cpid/ '
                          '{ printf("%s\\n", probe); }',
                    "-c", GETPPID_5)
    assert r.rc == 0, r
    assert r.out == "begin\n" + "tracepoint:syscalls:sys_enter_getppid\n" * 5 + "\n\n", r


def test_a_predicate_per_type_with_p():
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid, interval:ms:50 { @[probe] = count(); exit(); }",
                    "-p", "1")
    assert r.rc == 0, r
    assert r.out == "\n\n@[interval:ms:50]: 1\n", r
