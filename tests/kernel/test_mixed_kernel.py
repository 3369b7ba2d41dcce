"""The VM tier: a kprobe and a tracepoint in one attach list (two program
types, one body, shared maps). Skipped, saying why, where kprobes are missing."""

import os

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("PYTRACE_VM_TIER") == "1"
_REASON = None if IN_VM or os.path.exists("/sys/bus/event_source/devices/kprobe") else \
    "no kprobe PMU here (kprobes compiled out); run scripts/vm-tests.sh"


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
def test_kprobe_and_tracepoint_in_one_probe_count_the_same_calls():
    # every openat(2) of the child enters do_sys_openat2 once
    r = run_pytrace("-e", "kprobe:do_sys_openat2, tracepoint:syscalls:sys_enter_openat /pid == cpid/ "
                          "{ @[probe] = count(); }",
                    "-c", py_workload("for _ in range(7): open('/etc/hostname').close()"), timeout=300)
    assert r.rc == 0, r
    assert r.err == "Attached 2 probes\n", r
    counts = dict(line[2:].split("]: ") for line in r.out.splitlines() if line.startswith("@["))
    assert set(counts) == {"kprobe:do_sys_openat2", "tracepoint:syscalls:sys_enter_openat"}, r
    assert counts["kprobe:do_sys_openat2"] == counts["tracepoint:syscalls:sys_enter_openat"], r
    assert int(counts["kprobe:do_sys_openat2"]) >= 7, r
