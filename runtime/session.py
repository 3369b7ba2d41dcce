"""A compiled program in the kernel: the primitives of a run (load, attach,
run BEGIN or END, poll and decode events, read and print maps, detach,
close) and the handlers of each event kind.

`runtime.lifecycle.Session` puts these in their one order for the CLI, the
Python API and the REPL. `close()` always releases every kernel object the
tracer made, whatever state it is in.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from pytrace.codegen.artifact import Artifact, EventSpec
from pytrace.runtime import attach as attach_mod
from pytrace.runtime import bpf, loader, symbol_settings
from pytrace.runtime.ringbuf import RingBuffer

TYPE_CHECKING = False  # (typing costs a start ~2 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

# Map reading, symbols and value decoding are imported when first used, after the probes are
# attached: a cached program's start (exec -> attached) imports only what loading and attaching need.

BATCH_RECORDS = 4096  # records per drain batch: the output is flushed after each
POLL_BUDGET_S = 0.1  # one poll() drains full batches for at most this long


def _tai_delta() -> int:
    """CLOCK_TAI minus CLOCK_BOOTTIME, the TAI clock read between two boot-time readings: added to
    bpf_ktime_get_boot_ns() it gives TAI time (nsecs(sw_tai), tseries()'s intervals)."""
    before = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    tai = time.clock_gettime_ns(time.CLOCK_TAI)
    after = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return tai - (before + after) // 2


RUN_BY_MODE = ("TEST", "BENCH")  # `when` of the programs only --test / --bench run


def attach_order(programs: list) -> list[tuple]:
    """(program, attach spec) pairs of loaded programs in the order bpftrace
    attaches them, so that probes firing on one event run in the order the
    script declares them: first, in order, those the kernel runs in the order
    they were attached; then, in reverse, those it runs newest first (the
    provider's fires_newest_first: uprobes, usdt, kprobes, fentry)."""
    pairs = [(prog, spec) for prog in programs for spec in prog.spec.attach]
    return ([pair for pair in pairs if not pair[0].spec.fires_newest_first]
            + [pair for pair in reversed(pairs) if pair[0].spec.fires_newest_first])


class Tracer:
    def __init__(self, artifact: Artifact, output, *, cpid: int = 0, pid: int | None = None) -> None:
        self.artifact = artifact
        self.out = output
        self.pid = pid
        pidns = os.stat("/proc/self/ns/pid")
        self.constants = {"cpid": cpid, "start_ns": time.clock_gettime_ns(time.CLOCK_BOOTTIME),
                          "ncpus": bpf.possible_cpus(), "pidns_dev": pidns.st_dev, "pidns_ino": pidns.st_ino,
                          "tai_delta": _tai_delta()}
        self.loaded: loader.Loaded | None = None
        self.ringbuf: RingBuffer | None = None
        self.links: list[int] = []
        self.releasing: list = []  # threads closing detached perf events (attach.release_all), joined by close()
        self.stats_fd: int | None = None  # kernel run counts on, for never_fired()
        self.attached_count = 0
        self.watchpoints: dict[int, list[int]] = {}  # address -> perf event fds of its watchpoints
        self.iterators: list[tuple[dict, int]] = []  # (attach spec, link fd) of iter probes, run by run_iterators()
        self.exited = False
        self.exit_code = 0
        self.finishing = False  # after exit() or a stop signal: later events are dropped until END runs, as in bpftrace
        self.lost_reported = 0
        # user stacks of exited processes are symbolised from the probed binaries
        binaries = [a["binary"] for p in artifact.programs for a in p.attach if a.get("binary")]
        symbol_settings.apply(artifact.symbols)
        if binaries or "pytrace.runtime.symbols" in sys.modules:  # (forgetting an earlier run's binaries)
            from pytrace.runtime import symbols

            symbols.SYMBOLS.use_binaries(binaries)
        self._formatters = self._compile_formatters(artifact, output)
        self._handlers: dict[str, Callable[[EventSpec, list], None]] = {
            "printf": self._on_printf, "print_value": self._on_print_value, "print_map": self._on_print_map,
            "clear": self._on_clear, "zero": self._on_zero, "exit": self._on_exit,
            "time": self._on_time, "cat": self._on_cat, "system": self._on_system, "map_full": self._on_map_full,
            "join": self._on_join, "runtime_warning": self._on_runtime_warning, "helper_error": self._on_helper_error,
            "errorf": self._on_message, "warnf": self._on_message, "unwatch": self._on_unwatch,
            "skboutput": self._on_skboutput,
        }
        self.pcaps = _pcap_writers(artifact)
        self._warned: set[str] = set()
        self.dropped: dict[str, int] = {}  # map name -> updates refused because the map was full
        self._zeroed: set[str] = set()  # keyless counts in arrays that zero() keeps showing (maps.read_map)

    @staticmethod
    def _compile_formatters(artifact: Artifact, output) -> list:
        """printf ids whose text is made straight from the record (printf_compiled.py); None: decode and format."""
        if not any(ev.kind in FORMATTED_EVENTS for ev in artifact.events):
            return [None] * len(artifact.events)
        from pytrace.lang import format_string
        from pytrace.runtime.output.printf_compiled import compile_printf

        for ev in artifact.events:
            if ev.kind in FORMATTED_EVENTS and ev.segments is None:
                ev.segments, _ = format_string.parse_format(ev.fmt)
        fast = hasattr(output, "printf_text")
        return [compile_printf(ev.segments, ev.arg_layouts, ev.arg_offsets)
                if fast and ev.kind == "printf" else None for ev in artifact.events]

    # ------------------------------------------------------------ lifecycle
    def load(self, log_level: int = 0) -> None:
        self.loaded = loader.load(self.artifact, self.constants, log_level)
        rb = self.artifact.maps[self.artifact.ringbuf_map]
        self.ringbuf = RingBuffer(self.loaded.map_fds[rb.index], rb.max_entries)

    def programs(self, when: str = "") -> list[loader.LoadedProgram]:
        assert self.loaded is not None
        return [p for p in self.loaded.programs if p.spec.when == when]

    def waits_for_events(self) -> bool:
        """Whether anything can still run after BEGIN: an event probe or a
        self:signal probe. Without one, bpftrace ends once BEGIN's output is
        delivered."""
        return any(p.when in ("", "SIGNAL") for p in self.artifact.programs)

    def check_attachable(self) -> None:
        """Refuse, before attaching anything, probes this kernel cannot attach."""
        for prog in self.artifact.programs:
            if prog.unavailable:
                raise attach_mod.AttachError(prog, prog.unavailable, prog.hint)

    def attach(self) -> int:
        """Attach every probe; on any failure detach what was attached and raise."""
        self.check_attachable()
        assert self.loaded is not None
        _import_event_handling(self.artifact, self._formatters)
        if any(p.spec.warn_never_fired for p in self.loaded.programs):
            self.count_runs()
        try:
            for prog, spec in attach_order(self.loaded.programs):
                if prog.spec.when in RUN_BY_MODE:  # test:/bench: probes run only by --test/--bench
                    continue
                fds = attach_mod.attach(prog.spec, spec, prog.fd, self.pid)
                self.links.extend(fds)
                if spec.get("kind") == "watchpoint":  # for unwatch(address)
                    self.watchpoints.setdefault(spec["address"], []).extend(fds)
                if spec.get("kind") == "iter":
                    self.iterators.append((spec, fds[0]))
                self.attached_count += 0 if spec.get("same_probe") else spec.get("attach_points", 1)  # usdt: more
                # locations of one probe; uprobe_multi: several functions
        except BaseException:
            self.detach()
            raise
        if self.attached_count == 0:
            for prog in self.loaded.programs:
                if prog.spec.when in RUN_BY_MODE:
                    flag = "--test to run test" if prog.spec.when == "TEST" else "--bench to run benchmark"
                    raise attach_mod.AttachError(prog.spec, f"No probes attached; use {flag} probes.", plain=True)
        return self.attached_count

    def run_iterators(self) -> int:
        """Read (or pin) each iter probe's iterator, then deliver the other events
        its program sent. Returns 1 when the kernel refused one, else 0."""
        if not self.iterators:
            return 0
        from pytrace.runtime import iterators

        failed = [spec for spec, link in self.iterators if not iterators.run(spec, link, self.out)]
        self.drain()
        return 1 if failed else 0

    def run_special(self, when: str, deliver: bool = True) -> None:
        """Run the BEGIN or END programs once, then (unless told not to) deliver their events."""
        if when == "END":
            self.finishing = False  # END's own events are printed
        for prog in self.programs(when):
            bpf.prog_test_run(prog.fd)
        if deliver:
            self.drain()

    def interrupt(self) -> None:
        """A stop signal (SIGINT, SIGTERM, SIGHUP) arrived, maybe in the middle of a batch: as in
        bpftrace, the events not yet delivered are dropped (END's will be printed), so poll()
        returns after the record at hand, however many are waiting (a probe calling system() on
        every context switch stops at once)."""
        self.finishing = True

    def poll(self, timeout_ms: int = 100, budget_s: float | None = POLL_BUDGET_S) -> int:
        """Deliver events from the ring buffer; returns how many arrived.

        Records are taken in batches of BATCH_RECORDS and the output is flushed
        after each batch, so events appear within milliseconds. Full batches
        follow each other for up to budget_s (None: until the ring is empty),
        then the caller gets control back (to check its stop conditions); after exit() or
        interrupt(), at the end of the batch (drain() still empties the ring)."""
        if self.ringbuf is None:
            return 0
        self.ringbuf.wait(timeout_ms)
        flush = getattr(self.out, "flush_batch", None)
        total, start = 0, time.monotonic()
        while True:
            try:
                n = self.ringbuf.drain(self._on_view, BATCH_RECORDS)
            finally:
                if flush is not None:
                    flush()
            total += n
            if n < BATCH_RECORDS or (budget_s is not None and (self.finishing or time.monotonic() - start > budget_s)):
                return total

    def wake_on(self, fd: int) -> None:
        """poll() also returns at once when fd becomes readable (a pidfd: that process ended)."""
        if self.ringbuf is not None:
            self.ringbuf.watch(fd)

    def drain(self) -> int:
        """Deliver every event left (after detach: the ring buffer only empties)."""
        return self.poll(0, budget_s=None)

    def detach(self) -> None:
        self.iterators.clear()
        links, self.links = self.links, []
        if links:
            self.releasing.extend(attach_mod.release_all(links, meanwhile=_import_map_reading))
        self.watchpoints.clear()

    def count_runs(self) -> None:
        """Have the kernel count program runs (for never_fired); best effort."""
        if self.stats_fd is None:
            try:
                self.stats_fd = bpf.enable_stats()
            except bpf.BPFError:
                pass

    def never_fired(self) -> list[str]:
        """Warnings for kprobe/fentry probes that attached but never ran."""
        if self.loaded is None or self.stats_fd is None:
            return []
        from pytrace.runtime import kprobes

        out = []
        for prog in self.loaded.programs:
            spec = prog.spec
            if not spec.warn_never_fired or bpf.obj_get_info_by_fd(prog.fd).get("run_cnt", 1):
                continue
            for a in spec.attach:
                out.append(kprobes.never_fired_hint(spec, a["func"]))
        return out

    def close(self) -> None:
        self.detach()
        if self.stats_fd is not None:
            os.close(self.stats_fd)
            self.stats_fd = None
        if self.ringbuf is not None:
            self.ringbuf.close()
            self.ringbuf = None
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = None
        for writer in self.pcaps.values():
            writer.close()
        self.pcaps.clear()
        while self.releasing:
            self.releasing.pop().join()

    def __enter__(self) -> "Tracer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ maps
    def map_names(self) -> list[str]:
        return sorted(m.name for m in self.artifact.maps if not m.name.startswith("__"))

    def read_map(self, name: str) -> MapData:
        from pytrace.runtime import maps

        assert self.loaded is not None
        spec = self.artifact.map_by_name(name)
        if spec is None:
            raise KeyError(name)
        return maps.read_map(spec, self.loaded.map_fds[spec.index], keep_zero=name in self._zeroed)

    def clear_map(self, name: str) -> None:
        """clear(@map): delete every entry."""
        assert self.loaded is not None
        spec = self.artifact.map_by_name(name)
        if spec is None:
            raise KeyError(name)
        from pytrace.runtime import maps

        bpf.map_clear(self.loaded.map_fds[spec.index], spec.key_size, maps.value_size_in_kernel(spec),
                      array=spec.map_type in ("array", "percpu_array"))
        self._zeroed.discard(name)

    def print_maps(self) -> None:
        maps = [self.read_map(n) for n in self.map_names()] if self.artifact.print_maps_on_exit else []
        self.out.exit_maps(maps)

    def lost_events(self) -> int:
        from pytrace.runtime import maps

        assert self.loaded is not None
        return maps.read_lost(self.loaded.map_fds[self.artifact.lost_map])

    def report_lost(self, final: bool = False) -> None:
        """Report events lost since the last report; at the end, the total too."""
        if self.loaded is None:
            return
        lost = self.lost_events()
        if lost > self.lost_reported:
            self.out.lost(lost - self.lost_reported)
            self.lost_reported = lost
        if final:
            self.out.total_lost(lost)

    def report_dropped(self) -> None:
        """At exit: how many updates of each full map were dropped."""
        sizes = {m.name: m.max_entries for m in self.artifact.maps}
        for name, n in sorted(self.dropped.items()):
            self.out.warning(f"WARNING: map {name} was full ({sizes.get(name, 0)} keys): "
                             f"{n} update{'s' if n != 1 else ''} dropped\n")

    # ------------------------------------------------------------ events
    def _on_view(self, view: memoryview, start: int, length: int) -> None:
        """One ring buffer record, in place: a compiled printf straight to the
        output's batch, anything else through _on_record."""
        if self.finishing:
            return
        (event_id,) = _EVENT_ID.unpack_from(view, start)
        if event_id < len(self._formatters):
            formatter = self._formatters[event_id]
            if formatter is not None:
                self.out.printf_text(formatter(view, start))
                return
        self._on_record(bytes(view[start:start + length]))

    def _on_record(self, data: bytes) -> None:
        (event_id,) = struct.unpack_from("<Q", data, 0)
        if event_id >= len(self.artifact.events):
            return
        ev = self.artifact.events[event_id]
        args = []
        if _plain_ints(ev):  # exit(code): no value model needed
            args = [int.from_bytes(data[off:off + layout["size"]], "little", signed=layout["signed"])
                    for layout, off in zip(ev.arg_layouts, ev.arg_offsets)]
        elif ev.arg_layouts:
            from pytrace.runtime import maps

            args = [maps.decode(layout, data[off:]) for layout, off in zip(ev.arg_layouts, ev.arg_offsets)]
        self._handlers[ev.kind](ev, args)

    def _on_printf(self, ev: EventSpec, args: list) -> None:
        self.out.printf(ev.segments, args)

    def _on_print_value(self, ev: EventSpec, args: list) -> None:
        self.out.value(args[0])

    def _on_print_map(self, ev: EventSpec, args: list) -> None:
        top, div = args
        self.out.map(self.read_map(ev.map_name), top, div)

    def _on_clear(self, ev: EventSpec, args: list) -> None:
        self.clear_map(ev.map_name)

    def _on_zero(self, ev: EventSpec, args: list) -> None:
        spec = self.artifact.map_by_name(ev.map_name)
        assert spec is not None and self.loaded is not None
        had_entry = spec.key_count == 0 and bool(self.read_map(ev.map_name).entries)
        from pytrace.runtime import maps

        maps.zero_map(spec, self.loaded.map_fds[spec.index])
        if had_entry:  # a hash keeps its key with a 0 value: so does a keyless count in an array
            self._zeroed.add(ev.map_name)

    def _on_exit(self, ev: EventSpec, args: list) -> None:
        if not self.exited:
            self.exited = self.finishing = True
            self.exit_code = args[0] if args else 0
            # The probes stop firing now; detach() closes them after the loop. (An
            # `interval:ms:1` probe would otherwise undo a zero() just delivered.)
            attach_mod.disable_all(self.links)


    def _on_message(self, ev: EventSpec, args: list) -> None:
        from pytrace.runtime.output.printf import format_printf

        severity = "ERROR" if ev.kind == "errorf" else "WARNING"
        self.out.message(severity, format_printf(ev.segments, args), ev.source)

    def _on_skboutput(self, ev: EventSpec, args: list) -> None:
        boot_ns, packet = args
        self.pcaps[ev.fmt].write(boot_ns, packet)

    def _on_unwatch(self, ev: EventSpec, args: list) -> None:
        for fd in self.watchpoints.pop(args[0], []):
            attach_mod.release(fd)
            self.links.remove(fd)

    def _on_time(self, ev: EventSpec, args: list) -> None:
        from pytrace.runtime import user_values

        self.out.text_event("time", user_values.boot_ns_to_datetime(
            time.clock_gettime_ns(time.CLOCK_BOOTTIME)).strftime(ev.fmt))

    def _on_cat(self, ev: EventSpec, args: list) -> None:
        from pytrace.runtime.output.printf import format_printf

        path = format_printf(ev.segments, args)
        try:
            with open(path, "rb") as f:
                data = f.read(self.artifact.max_cat_bytes)
        except OSError as e:
            self.out.warning(f"ERROR: failed to open file '{path}' ({e.strerror})\n")
            return
        self.out.text_event("cat", data.decode("utf-8", errors="replace"))

    def _on_system(self, ev: EventSpec, args: list) -> None:
        from pytrace.runtime.output.printf import format_printf

        command = format_printf(ev.segments, args)
        import subprocess  # only for system() (start-up time)

        proc = subprocess.run(["sh", "-c", command], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.out.text_event("syscall", proc.stdout.decode("utf-8", errors="replace"))

    def _on_join(self, ev: EventSpec, args: list) -> None:
        strings = []
        for s in args:
            if not s:
                break
            strings.append(s)
        self.out.text_event("join", ev.fmt.join(strings))

    def _on_map_full(self, ev: EventSpec, args: list) -> None:
        """A map update failed because the map is full: warn once per map
        (and count every one, reported at exit by report_dropped)."""
        self.dropped[ev.map_name] = self.dropped.get(ev.map_name, 0) + 1
        if ev.map_name not in self._warned:
            self._warned.add(ev.map_name)
            self.out.warning(ev.fmt)


    def _on_runtime_warning(self, ev: EventSpec, args: list) -> None:
        """A program's run-time warning (e.g. a division by zero): each time it happens."""
        self.out.warning(ev.fmt)

    def _on_helper_error(self, ev: EventSpec, args: list) -> None:
        """A checked helper failed (codegen/helper_errors.py): each time it happens."""
        self.out.helper_error(ev.fmt, args[0], ev.source)


FORMATTED_EVENTS = ("printf", "cat", "system", "errorf", "warnf")

# What handling events imports (about 25 ms: the value model, dataclasses): done before
# attaching, for programs that send events that need it. Imported later, on the first event,
# it would hold up that event and the ones after it: maps a clear() emptied would fill again
# meanwhile. Programs without such events start without it: maps read at the exit, events
# whose handlers import nothing and whose arguments are plain integers (a full map's warning,
# a failed helper's, exit(code)), and printf calls formatted straight from the record (printf_compiled.py).
EVENT_IMPORTS = ("pytrace.runtime.maps", "pytrace.runtime.output.printf")
PLAIN_EVENTS = ("map_full", "runtime_warning", "helper_error", "exit")  # kinds whose handlers import nothing


def _plain_ints(ev: EventSpec) -> bool:
    """Whether the event's arguments (if any) are all integers printed as numbers."""
    return all(layout["kind"] == "int" and "enum" not in layout for layout in ev.arg_layouts)


def _import_event_handling(artifact: Artifact, formatters: list) -> None:
    def needs_value_model(ev: EventSpec, formatter) -> bool:
        return formatter is None and not (ev.kind in PLAIN_EVENTS and _plain_ints(ev))

    if any(needs_value_model(ev, f) for ev, f in zip(artifact.events, formatters)):
        import importlib

        for name in EVENT_IMPORTS:
            importlib.import_module(name)


def _import_map_reading() -> None:
    """What reading the maps at the exit imports (about 25 ms), while the kernel detaches."""
    from pytrace.runtime import maps  # noqa: F401


_EVENT_ID = struct.Struct("<Q")



def _pcap_writers(artifact: Artifact) -> dict:
    """skboutput()'s files, by path (created when the run starts, as bpftrace creates them)."""
    paths = [ev.fmt for ev in artifact.events if ev.kind == "skboutput"]
    if not paths:
        return {}
    from pytrace.runtime import pcap

    return {path: pcap.PcapWriter(path) for path in paths}
