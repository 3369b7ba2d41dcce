"""The VM tier: nothing is left behind by a kprobe run that goes through
tracefs (`kprobe_events`), whatever ends it (issue 12).

Each run is forced onto tracefs (PYTRACE_KPROBE_ATTACH=tracefs), where the
event `kprobes/pytrace_<pid>_<n>` outlives the process unless pytrace
removes it. After each exit path the whole kernel is checked, as only this
VM's tests load BPF: `bpftool prog/map/link/perf show` list nothing and
kprobe_events has no pytrace entry. After SIGKILL the entry is left (the
process could not remove it), and the next run, or `pytrace --cleanup`,
removes it. Run with `scripts/vm-tests.sh -k cleanup -s` to see what
bpftool and tracefs showed.
"""

import json
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("PYTRACE_VM_TIER") == "1"
KPROBE_EVENTS = "/sys/kernel/tracing/kprobe_events"
PROGRAM = "kprobe:do_sys_openat2 { @opens = count(); }"
TRACEFS_ENV = {"PYTRACE_KPROBE_ATTACH": "tracefs"}
OPEN = py_workload("open('/etc/hostname').close()")

if not IN_VM:
    pytestmark = [pytest.mark.vm, pytest.mark.skip(
        reason="checks a whole kernel's BPF and tracefs state with kprobes: only in the VM (scripts/vm-tests.sh)")]


def pytrace_events() -> list[str]:
    with open(KPROBE_EVENTS) as f:
        return [line.strip() for line in f if "pytrace_" in line]


def bpftool(kind: str) -> list:
    out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def leftovers(wait: float = 10.0) -> dict:
    """What is left in the kernel (objects go an RCU grace period after
    their last reference, so wait for them)."""
    deadline = time.monotonic() + wait
    while True:
        left = {kind: bpftool(kind) for kind in ("prog", "map", "link", "perf")}
        left["kprobe_events"] = pytrace_events()
        left = {kind: v for kind, v in left.items() if v}
        if not left or time.monotonic() > deadline:
            print(f"after the run: bpftool prog/map/link/perf show and kprobe_events: {left or 'nothing'}")
            return left
        time.sleep(0.2)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytrace", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTRACE_NO_CACHE="1", **TRACEFS_ENV))


def wait_attached(proc: subprocess.Popen, timeout: float = 240) -> str:
    """Wait for "Attached 1 probe"; returns the run's tracefs event line."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    err = ""
    while "Attached" not in err and time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stderr.readline()
            if not line:
                break
            err += line
    if "Attached" not in err:
        proc.kill()
        pytest.fail(f"pytrace did not attach: {err}{proc.communicate()}")
    mine = [line for line in pytrace_events() if f"pytrace_{proc.pid}_" in line]
    assert len(mine) == 1, (mine, pytrace_events())
    print(f"while running: kprobe_events has {mine[0]!r}")
    return mine[0]


def test_normal_exit_with_the_child():
    r = run_pytrace("-e", "kprobe:do_sys_openat2 /pid == cpid/ { @opens = count(); }", "-c", OPEN,
                    timeout=300, env=TRACEFS_ENV)
    assert r.rc == 0, r
    assert "@opens: " in r.out, r
    assert leftovers() == {}


def test_exit_builtin():
    proc = start("-e", "kprobe:do_sys_openat2 { exit(); }")
    wait_attached(proc)
    open("/etc/hostname").close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert leftovers() == {}


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal(how):
    proc = start("-e", PROGRAM)
    wait_attached(proc)
    proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert "@opens: " in out, (proc.returncode, out, err)
    assert leftovers() == {}


def killed_run() -> str:
    """A run killed with SIGKILL: its event is left in kprobe_events (and nothing else)."""
    proc = start("-e", PROGRAM)
    event = wait_attached(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert leftovers(wait=3) == {"kprobe_events": [event]}
    return event.split()[0].split(":", 1)[1]  # p:kprobes/pytrace_<pid>_0 ... -> kprobes/pytrace_<pid>_0


def test_sigkill_then_a_later_run_removes_the_stale_event():
    killed_run()
    r = run_pytrace("-e", "kprobe:do_sys_openat2 /pid == cpid/ { @opens = count(); }", "-c", OPEN,
                    timeout=300, env=TRACEFS_ENV)
    assert r.rc == 0, r
    assert leftovers() == {}


def test_sigkill_then_cleanup_removes_the_stale_event():
    event = killed_run()
    r = run_pytrace("--cleanup", timeout=120)
    assert r.rc == 0, r
    assert r.out == f"removed stale probe event {event}\n", r
    assert leftovers() == {}
