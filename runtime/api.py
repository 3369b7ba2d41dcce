"""The friendly Python API: compile a program, attach it, read its maps and
printf output from Python, detach it.

    import os, pytrace

    prog = pytrace.compile('tracepoint:syscalls:sys_enter_getppid { @calls[comm] = count(); }')
    with prog.attach() as probes:
        os.getppid()
        print(probes.maps())          # {'@calls': {('python3',): 1}}

`pytrace.compile()` raises `pytrace.CompileError` (its str() is the
diagnostics, rendered as bpftrace renders them); `Program.attach()` raises
`pytrace.AttachError` when the kernel refuses a probe. A `Probes` object owns
kernel objects (programs, maps, perf events, links): `close()` releases all
of them, and so do leaving its `with` block, an exception in it, and garbage
collection.

This is a facade over `runtime.lifecycle.Session` (the lifecycle the
command line and the REPL drive too: load, BEGIN, attach, events, detach
and END) and `runtime.driver`.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator

from pytrace.lang.diagnostics import CompileError
from pytrace.lang.options import Options
from pytrace.lang.source import Source

__all__ = ["compile", "attach", "Program", "Probes", "Event", "CompileError", "AttachError", "to_dataframe"]


class AttachError(Exception):
    """The kernel refused to load or attach a probe. str() is the message
    pytrace's command line prints (`stdin:1:1-30: ERROR: probe: reason`)."""

    def __init__(self, message: str, probe: str) -> None:
        super().__init__(message)
        self.probe = probe


@dataclass
class Event:
    """One piece of output a probe sent: `kind` is "printf", "print" (print()
    of a value or a map), "time", "cat" or "syscall" (system()); `text` is
    what pytrace would print; `value` is the printed value (a MapData for a
    map) for "print", else None."""

    kind: str
    text: str
    value: object = None

    def __str__(self) -> str:
        return self.text


def compile(program: str, params=(), *, unsafe: bool = False, pid: int | None = None,
            name: str = "stdin") -> "Program":
    """Compile bpftrace-language source. `params` are the positional
    parameters ($1, $2, ...); `pid` filters like `-p PID` (and is the process
    uprobes attach to); `name` is the file name diagnostics show.
    Warnings go to stderr, as on the command line. Compiled programs are
    cached like the command line's (see README)."""
    from pytrace.runtime import driver

    options = Options(params=[str(p) for p in params], unsafe=unsafe, pid_filter=pid)
    driver.apply_env(options)
    source = Source(name, program)
    artifact = driver.compile_source(source, options, [])
    return Program(source, artifact, pid)


def attach(program: str, params=(), **options) -> "Probes":
    """compile() and Program.attach() in one step."""
    return compile(program, params, **options).attach()


class Program:
    """A compiled program: pure data, attachable any number of times."""

    def __init__(self, source: Source, artifact, pid: int | None = None) -> None:
        self.source = source
        self.artifact = artifact
        self.pid = pid

    @property
    def probes(self) -> list[str]:
        """The probes (attach points) of the program, as `probe` prints them."""
        return [p.probe for p in self.artifact.programs]

    @property
    def map_names(self) -> list[str]:
        return sorted(m.name for m in self.artifact.maps if not m.name.startswith("__"))

    def attach(self, *, begin: bool = True) -> "Probes":
        """Load the program, run BEGIN, then attach every probe (as the
        command line does: BEGIN runs before any other probe can fire), and
        deliver BEGIN's events. begin=False skips BEGIN altogether (it cannot
        run later: BEGIN comes before attaching). On any failure nothing is
        left in the kernel."""
        probes = Probes(self)
        try:
            probes._start(begin)
        except BaseException:
            probes.close()
            raise
        return probes

    def __repr__(self) -> str:
        return f"<pytrace.Program {', '.join(self.probes)}>"


def _release(session, state: dict) -> None:
    """Close a session (also called by the garbage collector: no reference to Probes)."""
    state["closed"] = True
    session.close()


class Probes:
    """An attached program. Thread-safe: every method takes one lock."""

    def __init__(self, program: Program) -> None:
        from pytrace.runtime.lifecycle import Session

        self.program = program
        self._lock = threading.RLock()
        self._queue: deque[Event] = deque()
        self._printf_callbacks: list[Callable[[str], None]] = []
        self._event_callbacks: list[Callable[[Event], None]] = []
        self._ended = False
        self._exporters: list = []
        self._state = {"closed": False}
        # The session must not keep this object alive (the finalizer holds the session).
        self._session = Session(program.artifact, _Output(weakref.WeakMethod(self._deliver)), pid=program.pid)
        self._finalizer = weakref.finalize(self, _release, self._session, self._state)

    # ------------------------------------------------------------ lifecycle
    def _start(self, begin: bool) -> None:
        from pytrace.runtime import driver, lifecycle

        driver.ensure_kernel_fs()
        try:
            self._session.load()
            if begin:
                self._session.begin()
            self._session.attach()
        except lifecycle.KERNEL_REFUSALS as e:
            message, probe = lifecycle.refusal(self.program.source, e)
            raise AttachError(message.rstrip("\n"), probe) from e
        self.poll(0)  # BEGIN's events; a BEGIN that called exit() ends the program here

    @property
    def attached(self) -> int:
        """How many attach points are attached (0 once detached)."""
        return 0 if self._ended else self._session.attached_count

    @property
    def attached_count(self) -> int:
        """How many attach points attach() attached (stays after detaching)."""
        return self._session.attached_count

    @property
    def closed(self) -> bool:
        return self._state["closed"]

    @property
    def exited(self) -> bool:
        """Whether the program called exit() (it is then detached and its END has run)."""
        return self._session.exited

    @property
    def exit_code(self) -> int:
        return self._session.exit_code

    def poll(self, timeout: float = 0.1) -> int:
        """Wait up to `timeout` seconds for events and deliver them (to the
        callbacks, else to the queue events() reads). Returns how many arrived.
        When the program calls exit(), it is detached and its END runs."""
        with self._lock:
            if self.closed or self._ended:
                return 0
            n = self._session.poll(max(0, int(timeout * 1000)))  # also "Lost N events" on stderr
            if self._session.exited:
                self.detach()
            return n

    def _poll_ms(self, timeout_ms: int) -> int:
        return self.poll(timeout_ms / 1000)

    def run(self, timeout: float | None = None) -> int:
        """Deliver events until the program calls exit(), Ctrl-C or SIGTERM
        arrives (in the main thread), the `pid` process is gone, or `timeout`
        seconds pass: the command line's event loop. Then detach and run END,
        as the command line does. Returns exit()'s code, else 0."""
        from pytrace.runtime import lifecycle

        self._check_open()
        if not self._ended:
            stop = lifecycle.StopConditions(pid=self.program.pid, timeout=timeout)
            lifecycle.run_to_end(self._session, stop, poll=self._poll_ms, end=self.detach)
        return self.exit_code

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events as they arrive, for `timeout` seconds (None: until the
        program exits). Each Event's str() is the text pytrace would print."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while self._queue:
                yield self._queue.popleft()
            if self.closed or self._ended:
                return
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return
            self.poll(left)

    def on_printf(self, callback: Callable[[str], None]) -> None:
        """callback(text) for every printf; printf lines then skip the events() queue."""
        self._printf_callbacks.append(callback)

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """callback(Event) for every event not taken by an on_printf callback;
        events then skip the events() queue."""
        self._event_callbacks.append(callback)

    def _deliver(self, event: Event) -> None:
        if event.kind == "printf" and self._printf_callbacks:
            for cb in self._printf_callbacks:
                cb(event.text)
        elif self._event_callbacks:
            for cb in self._event_callbacks:
                cb(event)
        else:
            self._queue.append(event)

    def detach(self, run_end: bool = True) -> None:
        """Stop the probes, deliver what they sent, then run END (once).
        Maps stay readable until close()."""
        with self._lock:
            if self.closed or self._ended:
                return
            self._ended = True
            self._session.stop(run_end)

    def close(self) -> None:
        """Release every kernel object (and stop the Prometheus servers); does not run END (detach() does)."""
        for exporter in self._exporters:
            exporter.close()
        self._exporters.clear()
        with self._lock:
            self._ended = True
            self._finalizer()

    def __enter__(self) -> "Probes":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("these probes are closed")

    # ------------------------------------------------------------ maps
    @property
    def map_names(self) -> list[str]:
        return self.program.map_names

    def read_map(self, name: str):
        """One map as a runtime.output.values.MapData (what the printers take)."""
        with self._lock:
            self._check_open()
            return self._session.read_map(name)

    def maps(self) -> dict:
        """Every map as plain Python: a map without keys is its value (None
        while it is empty); a keyed map is {key tuple: value}. Values are
        ints and strings, or Hist/LHist/Avg/Stats objects (hist buckets are in
        `.buckets`)."""
        return {name: map_value(self.read_map(name)) for name in self.map_names}

    def format_maps(self, at_exit: bool = True) -> str:
        """The maps as text, as bpftrace prints them at exit (at_exit=False:
        as print(@map) does, so empty maps print too)."""
        from pytrace.runtime.output import text as text_format

        maps = [self.read_map(name) for name in self.map_names]
        if at_exit:  # format_exit sorts the maps like bpftrace; drop its leading end-of-run lines
            return text_format.format_exit(maps)[len(text_format.end()):]
        return "".join(text_format.format_map(m) for m in sorted(maps, key=lambda m: m.name))

    def format_map(self, name: str) -> str:
        """One map as print(@map) prints it."""
        from pytrace.runtime.output import text as text_format

        return text_format.format_map(self.read_map(name))

    def dataframe(self, name: str):
        """One map as a pandas DataFrame (see runtime/frames.py): a column per
        key part (named by config prometheus_labels, else key0, key1, ...) and
        per value field; hist/lhist one row per bucket (low, high, count)."""
        from pytrace.runtime import frames

        return frames.to_dataframe(self.read_map(name), self.program.artifact.prometheus_labels)

    def serve_prometheus(self, port: int = 0, host: str = "0.0.0.0", *, max_keys: int | None = None):
        """Serve the maps as Prometheus metrics at http://host:port/metrics
        until close() (port 0: any free port; the returned server's .port
        says which). Returns the server; its close() stops it earlier."""
        from pytrace.runtime.exporters import prometheus

        self._check_open()
        exporter = prometheus.serve(self.program.artifact, self.read_map, host, port,
                                    max_keys=max_keys or prometheus.DEFAULT_MAX_KEYS)
        self._exporters.append(exporter)
        return exporter

    def clear(self, name: str) -> None:
        """clear(@map): delete every entry."""
        with self._lock:
            self._check_open()
            self._session.clear_map(name)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("detached" if self._ended else "attached")
        return f"<pytrace.Probes {', '.join(self.program.probes)} ({state})>"


def to_dataframe(value, labels=()):
    """A map as a pandas DataFrame: a MapData (Probes.read_map, a print
    Event's value) or a value of Probes.maps(). Needs pandas
    (`pip install 'pytrace[pandas]'`)."""
    from pytrace.runtime import frames

    return frames.to_dataframe(value, labels)


def map_value(data) -> object:
    """A MapData as plain Python (see Probes.maps)."""
    if data.is_scalar:
        return data.entries[0][1] if data.entries else None
    return {key: value for key, value in data.entries}


class _Output:
    """The Tracer's output object: turns each event into an Event (text
    formatted as on the command line); warnings and lost events go to stderr."""

    def __init__(self, deliver: weakref.WeakMethod) -> None:
        from pytrace.runtime.output import text as text_format
        from pytrace.runtime.output.writer import Writer

        self._deliver_ref = deliver
        self._fmt = text_format
        self._writer = Writer(text_format, sys.stderr, sys.stderr, quiet=True)

    def _deliver(self, event: Event) -> None:
        deliver = self._deliver_ref()
        if deliver is not None:
            deliver(event)

    def printf(self, segments, args: list) -> None:
        from pytrace.runtime.output.printf import format_printf

        self._deliver(Event("printf", self._fmt.format_printf_event(format_printf(segments, args))))

    def printf_text(self, text: str) -> None:
        self._deliver(Event("printf", self._fmt.format_printf_event(text)))

    def value(self, v) -> None:
        self._deliver(Event("print", self._fmt.format_value(v), v))

    def map(self, m, top: int = 0, div: int = 1) -> None:
        self._deliver(Event("print", self._fmt.format_map(m, top, div), m))

    def text_event(self, kind: str, text: str) -> None:
        self._deliver(Event(kind, getattr(self._fmt, kind + "_event")(text)))

    def __getattr__(self, name: str):
        return getattr(self._writer, name)  # attached, lost, total_lost, warning, ...
