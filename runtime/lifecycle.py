"""The one run lifecycle the command line, the Python API and the REPL share.

A `Session` takes one compiled program through its steps, in this order
(as bpftrace does):

    load()        programs and maps into the kernel
    begin()       run BEGIN once; its events are held back (optional step)
    attach()      attach every other probe ("Attached N probes")
    run() / poll()  the event loop: deliver events until a stop condition
    stop()        detach, never-fired warnings, drain, END, lost-event total
    print_maps()  the maps, as printed at exit
    close()       release every kernel object (any state, any number of times)

A step called out of order raises `LifecycleError`. `run_program()` is the
whole ordered run for a front end (the CLI). The event loop, its stop
conditions (exit(), SIGINT/SIGTERM, the end of the `-c` child, the `-p`
process gone, and, as bpftrace, a program with nothing but begin/end
probes once their output is delivered), SIGUSR1 (runs the
self:signal:SIGUSR1 probes) and the reporting of kernel refusals live here
and nowhere else. `--test`/`--bench` take run_checks() instead of attach()
and run().
"""

from __future__ import annotations

import _signal as signal  # the C module `signal` wraps: `signal` builds enum classes at import (~1 ms of a start)
import os
import sys
import time
from pytrace.lang.diagnostics import Diagnostic
from pytrace.lang.source import Source, Span
from pytrace.runtime.attach import AttachError
from pytrace.runtime.loader import LoadError, MapError
from pytrace.runtime.session import Tracer

TYPE_CHECKING = False  # (typing, contextlib and collections cost a start ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

KERNEL_REFUSALS = (LoadError, AttachError, MapError)
LOST_REPORT_SECONDS = 1.0
POLL_MS = 100


class LifecycleError(RuntimeError):
    """A Session step called out of order (e.g. begin() after attach())."""


# ------------------------------------------------------------ session states and steps
NEW, LOADED, BEGUN, ATTACHED, STOPPED, CLOSED = "new", "loaded", "begun", "attached", "stopped", "closed"

# step -> the states it may be called in
ALLOWED = {
    "load": (NEW,),
    "begin": (LOADED,),
    "attach": (LOADED, BEGUN),
    "run_checks": (LOADED, BEGUN),
    "poll": (ATTACHED,),
    "run": (ATTACHED,),
    "stop": (ATTACHED,),
    "print_maps": (STOPPED,),
    "read_map": (LOADED, BEGUN, ATTACHED, STOPPED),
}


class Session:
    """One compiled program in the kernel, driven through the ordered steps."""

    def __init__(self, artifact, output, *, cpid: int = 0, pid: int | None = None) -> None:
        self.tracer = Tracer(artifact, output, cpid=cpid, pid=pid)
        self.out = output
        self.state = NEW
        self._lost_checked = time.monotonic()

    def _step(self, name: str) -> None:
        if self.state not in ALLOWED[name]:
            raise LifecycleError(f"{name}() cannot be called when the session is {self.state} "
                                 f"(order: load, begin, attach, run, stop, print_maps, close)")

    # ------------------------------------------------------------ the steps
    def load(self, log_level: int = 0) -> None:
        """Refuse probes this kernel cannot attach, then load programs and maps."""
        self._step("load")
        self.tracer.check_attachable()
        self.tracer.load(log_level)
        self.state = LOADED

    def begin(self) -> None:
        """Run BEGIN before any probe is attached; its events are delivered by
        the first poll, after "Attached N probes"."""
        self._step("begin")
        self.tracer.run_special("BEGIN", deliver=False)
        self.state = BEGUN

    def attach(self) -> int:
        """Attach every probe (on a failure, none stays attached); returns how many."""
        self._step("attach")
        n = self.tracer.attach()
        self.state = ATTACHED
        self.out.attached(n)
        return n

    def run_checks(self, mode: str) -> int:
        """`--test` / `--bench` instead of attach() and run(): BEGIN's events,
        then the test: or bench: probes (runtime/checks.py); returns the
        run's exit code (1 when a test or benchmark failed)."""
        from pytrace.runtime import checks

        self._step("run_checks")
        self.tracer.poll(0)
        self.state = ATTACHED
        return checks.MODES[mode](self.tracer, self.out)

    def poll(self, timeout_ms: int = POLL_MS) -> int:
        """Deliver events; every second or so, report events lost since the last report."""
        self._step("poll")
        n = self.tracer.poll(timeout_ms)
        now = time.monotonic()
        if now - self._lost_checked > LOST_REPORT_SECONDS:
            self._lost_checked = now
            self.tracer.report_lost()
        return n

    def run(self, stop: "StopConditions", poll: Callable[[int], int] | None = None) -> str:
        """The event loop: poll until a stop condition holds; returns its name.
        `poll` replaces self.poll (the API's takes its lock)."""
        self._step("run")
        if self.tracer.iterators:  # iter probes: the run is reading them (as bpftrace's)
            self.tracer.exit_code = self.tracer.exit_code or self.tracer.run_iterators()
            return "iter"
        poll = poll or self.poll
        drain_only = not self.tracer.waits_for_events()
        while True:
            reason = stop.before_poll(self)
            if reason:
                return reason
            delivered = poll(POLL_MS)
            if stop.take_sigusr1():
                self.tracer.run_special("SIGNAL")
            reason = stop.after_poll(self)
            if reason:
                return reason
            if drain_only and not delivered:
                return "drained"

    def stop(self, run_end: bool = True) -> None:
        """Detach, warn about probes that never fired, deliver what is left, run END."""
        self._step("stop")
        self.state = STOPPED
        self.tracer.detach()
        for warning in self.tracer.never_fired():
            sys.stderr.write(warning)
        self.tracer.drain()
        if run_end:
            self.tracer.run_special("END")
        self.tracer.report_lost(final=True)
        self.tracer.report_dropped()

    def print_maps(self) -> None:
        self._step("print_maps")
        self.tracer.print_maps()

    def close(self) -> None:
        self.state = CLOSED
        self.tracer.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ state
    @property
    def exited(self) -> bool:
        return self.tracer.exited

    @property
    def exit_code(self) -> int:
        return self.tracer.exit_code

    @property
    def attached_count(self) -> int:
        return self.tracer.attached_count

    def read_map(self, name: str):
        self._step("read_map")
        return self.tracer.read_map(name)

    def clear_map(self, name: str) -> None:
        self._step("read_map")
        self.tracer.clear_map(name)


# ------------------------------------------------------------ stop conditions
def _pidfd(pid: int) -> int | None:
    """A pidfd of the process (readable when it ends), or None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


class Child:
    """The `-c` command: forked before compiling (its pid is cpid), held back
    until the probes are attached, reaped at the end."""

    def __init__(self, cmd: str) -> None:
        argv = [a for a in cmd.split(" ") if a]  # as bpftrace: split on spaces, no quoting
        if not argv:
            raise ValueError("-c needs a command")
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write_fd)
            try:
                if os.read(read_fd, 1) != b"g":
                    os._exit(0)
                os.execvp(argv[0], argv)
            except OSError as e:
                sys.stderr.write(f"ERROR: failed to run '{argv[0]}': {e.strerror}\n")
            os._exit(127)
        os.close(read_fd)
        self.pid, self._go = pid, write_fd
        self.pidfd = _pidfd(pid)

    def release(self) -> None:
        if self._go is not None:
            os.write(self._go, b"g")
            os.close(self._go)
            self._go = None

    def done(self) -> bool:
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return pid != 0

    def terminate(self) -> None:
        """The run is over (exit(), a signal, the loop's end): a started child still
        running gets SIGTERM, as bpftrace's request_finalize() sends it, and is reaped."""
        if self._go is None and not self.done():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.cancel()

    def cancel(self) -> None:
        """Never started: it sees EOF and exits. Then (started or not) reap it."""
        if self._go is not None:
            os.close(self._go)
            self._go = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class StopConditions:
    """What ends the event loop: the program's exit(), SIGINT or SIGTERM
    (while signals() is active), the end of the -c child, the -p process gone,
    or a deadline (the API's timeout)."""

    def __init__(self, *, child: Child | None = None, pid: int | None = None,
                 timeout: float | None = None) -> None:
        self.child = child
        self.pid = pid
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.signalled = False
        self.sigusr1 = False  # SIGUSR1 arrived: run the self:signal:SIGUSR1 probes
        self._pid_fd: int | None = None  # the -p process's pidfd, kept for the run

    def exit_fds(self) -> list[int]:
        """pidfds readable once the -c child or the -p process has ended."""
        fds = [self.child.pidfd] if self.child is not None and self.child.pidfd is not None else []
        if self.pid and self._pid_fd is None:
            self._pid_fd = _pidfd(self.pid)
        return fds + ([self._pid_fd] if self._pid_fd is not None else [])

    def before_poll(self, session: Session) -> str | None:
        if session.exited:
            return "exit"
        if session.state != ATTACHED:  # stopped or closed meanwhile (the API, another thread)
            return "stopped"
        if self.signalled:
            return "signal"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "timeout"
        return None

    def after_poll(self, session: Session) -> str | None:
        if self.child is not None and self.child.done():
            session.tracer.poll(0)  # what the child's last moments sent
            return "child"
        if self.pid and not os.path.exists(f"/proc/{self.pid}"):
            return "pid"
        return None

    def take_sigusr1(self) -> bool:
        """Whether SIGUSR1 arrived since the last call."""
        arrived, self.sigusr1 = self.sigusr1, False
        return arrived

    def signals(self, tracer: Tracer | None = None) -> "_HandledSignals":
        """A context: SIGINT, SIGTERM and SIGHUP end the loop instead of killing the process
        (with `tracer`, at once: the events not yet delivered are dropped, as
        bpftrace drops them); ending() then ignores SIGINT while END runs.
        SIGUSR1 runs the self:signal:SIGUSR1 probes (and never kills). Main
        thread only: in another thread (where signal.signal() raises ValueError) it does nothing."""
        return _HandledSignals(self, tracer)

    def ending(self) -> None:
        """The loop is over: a second Ctrl-C must not interrupt detach, END and the maps."""
        if self._pid_fd is not None:
            os.close(self._pid_fd)
            self._pid_fd = None
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass


class _HandledSignals:
    """StopConditions.signals(): the handlers while in the `with`, the old ones restored after."""

    def __init__(self, stop: StopConditions, tracer: Tracer | None) -> None:
        self.stop, self.tracer = stop, tracer
        self.old: dict = {}

    def on_signal(self, signum, frame) -> None:
        self.stop.signalled = True
        if self.tracer is not None:
            self.tracer.interrupt()

    def on_sigusr1(self, signum, frame) -> None:
        self.stop.sigusr1 = True

    def __enter__(self) -> None:
        try:
            self.old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        except ValueError:  # not the main thread (signals are the main thread's)
            return
        self.old[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self.on_sigusr1)

    def __exit__(self, *exc) -> None:
        for s, h in self.old.items():
            signal.signal(s, h)


def run_to_end(session: Session, stop: StopConditions, *, poll: Callable[[int], int] | None = None,
               end: Callable[[], None] | None = None, print_maps: bool = False) -> str:
    """From attached to stopped: release the -c child, the event loop under
    signals(), then stop() (and print_maps()) with Ctrl-C ignored. Returns
    why the loop ended. `poll` and `end` replace session.poll and
    session.stop (the API's take its lock)."""
    with stop.signals(session.tracer):
        if stop.child is not None:
            (poll or session.poll)(0)  # BEGIN's output (a tool's header) before anything the child prints
            stop.child.release()
        for fd in stop.exit_fds():
            session.tracer.wake_on(fd)  # the loop notices the -c child or -p process ending at once
        reason = session.run(stop, poll)
        stop.ending()
        if stop.child is not None:
            stop.child.terminate()  # before END, as bpftrace
        (end or session.stop)()
        if print_maps:
            session.print_maps()
        return reason


def run_program(session: Session, stop: StopConditions, *, dry_run: bool = False, log_level: int = 0,
                on_loaded: Callable[[Session], None] | None = None,
                on_closing: Callable[[], None] | None = None, mode: str = "") -> int:
    """The whole ordered run of a front end: load, BEGIN, attach, the event
    loop, stop (detach, END), the maps, close. Returns exit()'s code or 0.
    `mode` "test"/"bench" runs the test:/bench: probes instead of attaching.
    Raises the kernel's refusals (see refusal()); closes everything on every path
    (`on_closing` runs first: what reads the maps from another thread stops there)."""
    try:
        session.load(log_level)
        if on_loaded is not None:
            on_loaded(session)
        if not dry_run:
            session.begin()
        if mode:
            code = session.run_checks(mode)
            stop.ending()
            session.stop()
            session.print_maps()
            return code or session.exit_code
        with stop.signals():  # from the attach on, as bpftrace: SIGUSR1 right after "Attached" must not kill
            session.attach()
            if dry_run:
                return 0
            run_to_end(session, stop, print_maps=True)
        return session.exit_code
    finally:
        if on_closing is not None:
            on_closing()
        session.close()


# ------------------------------------------------------------ kernel refusals
def refusal(source: Source, error: Exception, verbose: bool = False) -> tuple[str, str]:
    """A kernel refusal (LoadError, AttachError, MapError) as the message the
    CLI prints and the API raises: one or two plain lines naming the probe
    (with -v, then the raw verifier log). Returns (message, probe)."""
    if isinstance(error, MapError):
        return error.describe() + "\n", ""
    prog = error.program
    if isinstance(error, LoadError) and error.log_trimmed():
        return error.log_trimmed(), prog.probe
    if getattr(error, "plain", False):
        return Diagnostic("ERROR", error.reason).render(), prog.probe
    hint = getattr(error, "hint", None)
    span = Span(source, prog.span[0], prog.span[1]) if prog.span else None
    text = Diagnostic("ERROR", f"{prog.probe}: {error.reason}", span, [hint] if hint else []).render()
    if verbose and isinstance(error, LoadError) and error.error.log:
        text += error.error.log
    return text, prog.probe
