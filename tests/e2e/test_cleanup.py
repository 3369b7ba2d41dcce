"""Nothing is left behind, whatever ends a run (issue 12): after each exit
path, none of the programs, maps and links pytrace held is still in the
kernel (bpftool), no perf event of its process is left (`bpftool perf`), and
no pytrace entry is left in tracefs' uprobe_events/kprobe_events.

The objects are found while pytrace runs through its /proc/PID/fdinfo (prog_id,
map_id, link_id), so the test needs no bpftool built with pid support.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import bpf_fds, py_workload

pytestmark = pytest.mark.kernel

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
PROGRAM = ("tracepoint:syscalls:sys_enter_getppid { @calls = count(); } "
           f"uprobe:{LIBC}:getppid {{ @u = count(); }} "
           "interval:ms:50 { @ticks = count(); }")
EXIT_PROGRAM = PROGRAM + " interval:ms:700 { exit(); }"
TRACEFS = "/sys/kernel/tracing"


def owned_ids(pid: int) -> dict[str, set[int]]:
    """The ids of the BPF objects a process holds, by kind."""
    ids: dict[str, set[int]] = {"prog": set(), "map": set(), "link": set()}
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("prog_id", "map_id", "link_id"):
                        ids[key[:-3]].add(int(value))
        except OSError:
            continue
    return ids


def kernel_ids(kind: str) -> set[int]:
    out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True).stdout
    return {obj["id"] for obj in json.loads(out or "[]")}


def perf_events_of(pid: int) -> list[dict]:
    out = subprocess.run(["bpftool", "-j", "perf", "show"], capture_output=True, text=True).stdout
    return [e for e in json.loads(out or "[]") if e.get("pid") == pid]


def tracefs_entries() -> list[str]:
    lines = []
    for name in ("uprobe_events", "kprobe_events"):
        try:
            with open(os.path.join(TRACEFS, name)) as f:
                lines += [line.strip() for line in f if "pytrace_" in line]
        except OSError:
            pass
    return lines


def left_behind(pid: int, ids: dict[str, set[int]], wait: float = 5.0) -> dict:
    """What of `ids` is still in the kernel (the kernel frees objects an RCU
    grace period after the last reference goes, so wait for it)."""
    deadline = time.monotonic() + wait
    while True:
        left = {kind: sorted(ids[kind] & kernel_ids(kind)) for kind in ids}
        left = {kind: v for kind, v in left.items() if v}
        perf = perf_events_of(pid)
        if perf:
            left["perf"] = perf
        if tracefs_entries():
            left["tracefs"] = tracefs_entries()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTRACE_NO_CACHE="1")
    return subprocess.Popen([sys.executable, "-m", "pytrace", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_attached(proc: subprocess.Popen, timeout: float = 60) -> dict[str, set[int]]:
    """Wait until the probes are attached (the links exist), then the ids held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pytrace ended early: {proc.communicate()}")
        ids = owned_ids(proc.pid)
        if len(ids["prog"]) >= 3 and ids["map"]:  # the three probes
            if perf_events_of(proc.pid):
                return ids
        time.sleep(0.1)
    proc.kill()
    pytest.fail("pytrace did not attach in time")


@pytest.mark.parametrize("how", ["exit", "SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_nothing_is_left_after(how):
    proc = start("-e", EXIT_PROGRAM if how == "exit" else PROGRAM)
    ids = wait_attached(proc)
    if how != "exit":
        proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=60)
    assert left_behind(proc.pid, ids) == {}


def test_nothing_is_left_after_the_child_crashes():
    proc = start("-e", PROGRAM, "-c", py_workload("import os, time; time.sleep(1.5); os.getppid(); os.abort()"))
    ids = wait_attached(proc)
    proc.communicate(timeout=60)
    assert left_behind(proc.pid, ids) == {}


def test_nothing_is_left_after_the_child_exits():
    proc = start("-e", PROGRAM, "-c", py_workload("import os, time; time.sleep(1.5); os.getppid()"))
    ids = wait_attached(proc)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "@calls:" in out
    assert left_behind(proc.pid, ids) == {}


def test_nothing_is_left_after_an_attach_error_half_way():
    """The tracepoint and uprobe attach; then a uprobe at an address that is
    no instruction boundary the kernel accepts fails: everything goes."""
    before = {kind: kernel_ids(kind) for kind in ("prog", "map", "link")}
    proc = start("--unsafe", "-e", PROGRAM + f" uprobe:{LIBC}:0xffffffffff {{ @bad = count(); }}")
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the kernel accepted the bad uprobe")
    assert "Traceback" not in err
    time.sleep(0.5)
    new = {kind: kernel_ids(kind) - before[kind] for kind in before}
    left = left_behind(proc.pid, new, wait=5)
    # Other processes may load programs meanwhile: only ours (named p<N>_...) count.
    assert not perf_events_of(proc.pid) and not tracefs_entries(), left


def test_nothing_is_left_after_an_exception_in_an_api_callback():
    import pytrace

    before = bpf_fds()
    probes = pytrace.attach("tracepoint:syscalls:sys_enter_getppid /pid == $1/ { printf(\"hit\\n\"); }",
                            [os.getpid()])
    ids = owned_ids(os.getpid())

    def callback(_text):
        raise RuntimeError("the user's callback failed")

    probes.on_printf(callback)
    os.getppid()
    with pytest.raises(RuntimeError, match="callback failed"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probes.poll(100)
    probes.close()
    assert bpf_fds() == before
    assert left_behind(os.getpid(), {k: v - owned_ids(os.getpid())[k] for k, v in ids.items()}) == {}


def test_cleanup_removes_a_stale_tracefs_event():
    """An event named as pytrace names its tracefs events, for a process that
    no longer runs (as after SIGKILL), goes with `pytrace --cleanup`. (Here
    uprobe_events: this host has no kprobe_events; tests/kernel has the kprobe one.)"""
    from pytrace.runtime import cleanup

    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    event = f"pytrace_{pid}_0"
    fd = os.open(os.path.join(TRACEFS, "uprobe_events"), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, f"p:{event} /bin/true:0x1000\n".encode())
    finally:
        os.close(fd)
    assert any(event in line for line in tracefs_entries())
    proc = start("--cleanup")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"removed stale probe event uprobes/{event}" in out
    assert not any(event in line for line in tracefs_entries())
    assert cleanup.stale_events(TRACEFS) == []
