"""The API and the REPL drive the same lifecycle.Session as the CLI, in the
same order: BEGIN before attach; signals, exit(), the -p process end the
event loop; steps out of order raise."""

import os
import signal
import subprocess
import threading
import time

import pytest

import pytrace
from conftest import bpf_fds
from pytrace.runtime.lifecycle import LifecycleError, Session

pytestmark = pytest.mark.kernel

ME = os.getpid()


def test_api_runs_begin_before_attaching():
    # BEGIN runs through bpf(BPF_PROG_TEST_RUN): were the bpf probe attached
    # already, it would have counted that call before BEGIN read @n.
    probes = pytrace.attach(f'tracepoint:syscalls:sys_enter_bpf /pid == {ME}/ {{ @n++; }} '
                            'BEGIN { printf("begin %d\\n", @n); @before = @n; }')
    with probes:
        assert isinstance(probes._session, Session)
        assert probes.attached == 2  # BEGIN counts, as in "Attached 2 probes"
        events = [e.text for e in probes.events(timeout=0.2)]
        assert events[0] == "begin 0\n", events
        maps = probes.maps()
        assert maps["@before"] == 0
        assert maps["@n"] >= 1  # reading the maps are bpf() calls: the probe is attached now


def test_begin_after_attach_and_steps_after_close_raise():
    before = bpf_fds()
    probes = pytrace.compile('BEGIN { @x = 1; } tracepoint:syscalls:sys_enter_getppid { }').attach(begin=False)
    with probes:
        assert probes.maps() == {"@x": None}  # begin=False: BEGIN never runs
        with pytest.raises(LifecycleError, match="begin\\(\\) cannot be called when the session is attached"):
            probes._session.begin()
        probes.detach()
        with pytest.raises(LifecycleError, match="attach\\(\\) cannot be called when the session is stopped"):
            probes._session.attach()
    assert bpf_fds() == before


def test_session_steps_in_order_then_out_of_order():
    prog = pytrace.compile(f'BEGIN {{ @b = 7; }} tracepoint:syscalls:sys_enter_getppid /pid == {ME}/ '
                           '{ @n = count(); } END { @e = 1; }')

    class Quiet:
        def __getattr__(self, name):
            return lambda *a, **k: None

    before = bpf_fds()
    with Session(prog.artifact, Quiet()) as s:
        s.load()
        s.begin()
        assert s.read_map("@b").entries == [(None, 7)]
        with pytest.raises(LifecycleError):
            s.begin()
        assert s.attach() == 3
        os.getppid()
        with pytest.raises(LifecycleError):
            s.print_maps()  # only once stopped
        s.stop()
        assert s.read_map("@n").entries == [(None, 1)]
        assert s.read_map("@e").entries == [(None, 1)]
        with pytest.raises(LifecycleError):
            s.poll(0)
    assert bpf_fds() == before


def test_api_run_ends_on_sigterm_then_runs_end():
    probes = pytrace.attach('tracepoint:syscalls:sys_enter_getppid { } END { printf("end\\n"); }')
    with probes:
        timer = threading.Timer(0.3, os.kill, (ME, signal.SIGTERM))
        timer.start()
        old = signal.getsignal(signal.SIGTERM)
        try:
            assert probes.run(timeout=20) == 0
        finally:
            timer.cancel()
        assert signal.getsignal(signal.SIGTERM) is old
        assert probes.attached == 0
        assert [e.text for e in probes.events()] == ["end\n"]


def test_api_run_ends_on_exit_code_and_when_the_pid_is_gone():
    with pytrace.attach(f'tracepoint:syscalls:sys_enter_getppid /pid == {ME}/ {{ exit(4); }}') as probes:
        threading.Timer(0.2, os.getppid).start()
        assert probes.run(timeout=20) == 4
    child = subprocess.Popen(["sleep", "0.3"])
    threading.Thread(target=child.wait, daemon=True).start()  # reaped: /proc/PID goes away
    with pytrace.compile("tracepoint:syscalls:sys_enter_getppid { }", pid=child.pid).attach() as probes:
        start = time.monotonic()
        assert probes.run(timeout=20) == 0
        assert time.monotonic() - start < 10
        assert probes.attached == 0
