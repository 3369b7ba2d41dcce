"""The VM tier: kprobe, kretprobe, fentry and fexit in a kernel that has them.

scripts/vm-tests.sh runs this directory inside a Debian 6.1 VM
(../shared/kernel-vm/run-in-vm) and sets PYTRACE_VM_TIER=1 there. On a host
without kprobes or BPF tracing programs the tests skip, saying why; inside
the VM they never skip, so a wrong count is a failure.
"""

import os

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("PYTRACE_VM_TIER") == "1"
N = 7


def _tracing_refused() -> str | None:
    from pytrace.lang.btf import BTF
    from pytrace.runtime import bpf
    from pytrace.runtime import kernel_consts as K

    try:
        fid = BTF.kernel().find("do_sys_openat2", "func")
    except OSError:
        return "no kernel BTF"
    ok = fid is not None and bpf.probe_prog_type(K.BPF_PROG_TYPE_TRACING, attach_btf_id=fid,
                                                 expected_attach_type=K.BPF_TRACE_FENTRY)
    return None if ok else "this kernel refuses BPF tracing programs (fentry/fexit)"


def _skip_reason(what: str) -> str | None:
    if IN_VM:
        return None
    if what == "kprobe" and not os.path.exists("/sys/bus/event_source/devices/kprobe"):
        return "no kprobe PMU here (kprobes compiled out); run scripts/vm-tests.sh"
    if what == "fentry":
        reason = _tracing_refused()
        return reason and reason + "; run scripts/vm-tests.sh"
    return None


def needs(what: str):
    reason = _skip_reason(what)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


OPEN_HOSTNAME = py_workload(f"for _ in range({N}): open('/etc/hostname').close()")
# O_DIRECTORY on a regular file: openat fails with ENOTDIR (-20).
NOT_A_DIR = py_workload("import os\nfor _ in range(5):\n"
                        "    try: os.open('/etc/hostname', os.O_RDONLY | os.O_DIRECTORY)\n"
                        "    except NotADirectoryError: pass")
HOSTNAME = 'str(arg1) == "/etc/hostname"'


@needs("kprobe")
def test_kprobe_counts_opens():
    r = run_pytrace("-e", f"kprobe:do_sys_openat2 /pid == cpid && {HOSTNAME}/ {{ @[func] = count(); }}",
                    "-c", OPEN_HOSTNAME, timeout=300)
    assert r.rc == 0, r
    assert r.out == f"\n\n@[do_sys_openat2]: {N}\n", r
    assert r.err == "Attached 1 probe\n", r


@needs("kprobe")
def test_kprobe_wildcard_func_and_registers():
    prog = (f"k:do_sys_open* /pid == cpid && {HOSTNAME}/ "
            '{ @[func, reg("di") == arg0, reg("si") == arg1] = count(); }')
    r = run_pytrace("-e", prog, "-c", OPEN_HOSTNAME, timeout=300)
    assert r.rc == 0, r
    assert r.out == f"\n\n@[do_sys_openat2, true, true]: {N}\n", r
    assert r.err.startswith("Attached 2 probes\n"), r


@needs("kprobe")
def test_kprobe_through_tracefs_kprobe_events():
    r = run_pytrace("-e", f"kprobe:do_sys_openat2 /pid == cpid && {HOSTNAME}/ {{ @ = count(); }}",
                    "-c", OPEN_HOSTNAME, timeout=300, env={"PYTRACE_KPROBE_ATTACH": "tracefs"})
    assert r.rc == 0, r
    assert r.out == f"\n\n@: {N}\n", r
    with open("/sys/kernel/tracing/kprobe_events") as f:
        assert "pytrace_" not in f.read()


@needs("kprobe")
def test_kretprobe_retval():
    r = run_pytrace("-e", "kretprobe:do_sys_openat2 /pid == cpid && retval == -20/ { @[func, retval] = count(); }",
                    "-c", NOT_A_DIR, timeout=300)
    assert r.rc == 0, r
    assert r.out == "\n\n@[do_sys_openat2, -20]: 5\n", r


@needs("kprobe")
def test_user_one_liner_do_sys_open():
    """On 6.1 do_sys_open is inlined into the openat syscalls: the probe attaches
    and never fires, and pytrace says so at exit with what to use instead."""
    r = run_pytrace("-e", "kprobe:do_sys_open < @[comm] = count(); >", "-c", OPEN_HOSTNAME, timeout=300)
    assert r.rc == 0, r
    assert r.out.strip() == "", r
    assert r.err == (
        "Attached 1 probe\n"
        "WARNING: kprobe:do_sys_open attached but never fired: the compiler may have inlined do_sys_open "
        "into its callers, leaving the kprobe nothing to catch\n"
        "HINT: try kprobe:do_sys_openat2 or tracepoint:syscalls:sys_enter_open or "
        "tracepoint:syscalls:sys_enter_openat or tracepoint:syscalls:sys_enter_openat2\n"), r


@needs("fentry")
def test_fentry_typed_args():
    prog = ('fentry:do_sys_openat2 /pid == cpid && str(args.filename) == "/etc/hostname"/ '
            "{ @[func, args.dfd] = count(); }")
    r = run_pytrace("-e", prog, "-c", OPEN_HOSTNAME, timeout=300)
    assert r.rc == 0, r
    assert r.out == f"\n\n@[do_sys_openat2, -100]: {N}\n", r
    assert r.err == "Attached 1 probe\n", r


@needs("fentry")
def test_fexit_retval_and_args():
    prog = "kretfunc:do_sys_openat2 /pid == cpid && retval == -20/ { @[str(args.filename), retval] = count(); }"
    r = run_pytrace("-e", prog, "-c", NOT_A_DIR, timeout=300)
    assert r.rc == 0, r
    assert r.out == "\n\n@[/etc/hostname, -20]: 5\n", r


@pytest.mark.skipif(not IN_VM, reason="checks a whole kernel's BPF state: only in the VM")
def test_nothing_left_behind():
    from pytrace.runtime import bpf

    assert bpf.prog_ids() == []
    assert bpf.map_ids() == []
    with open("/sys/kernel/tracing/kprobe_events") as f:
        assert f.read() == ""


def test_kprobe_tracefs_event_of_a_killed_run_is_removed_by_cleanup():
    """SIGKILL leaves a tracefs kprobe event (where kprobes go through
    kprobe_events); `pytrace --cleanup` removes it, and nothing else is left."""
    import signal
    import subprocess
    import sys
    import time

    reason = _skip_reason("kprobe")
    if reason:
        pytest.skip(reason)
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", "-e", "kprobe:do_sys_openat2 { @ = count(); }"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Attached" not in _peek_stderr(proc):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    r = run_pytrace("--cleanup")
    assert r.rc == 0, r
    with open("/sys/kernel/tracing/kprobe_events") as f:
        assert "pytrace_" not in f.read()


def _peek_stderr(proc) -> str:
    """Whether the run has attached: its perf fds show in /proc (stderr is piped)."""
    try:
        fds = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
    except OSError:
        return ""
    return "Attached" if any("perf_event" in t for t in fds) else ""
