"""Attach loaded programs to kernel events: one attacher per mechanism,
keyed by the attach spec's "kind" (written by the probe's provider).

An attacher returns the file descriptors that keep the attachment alive;
closing them detaches (disabling a perf event does not stop its program).

A program goes onto a perf event (tracepoint, kprobe, uprobe, software...)
through a BPF link where the kernel has them (5.15): closing the link
detaches the program at once, while closing a tracepoint's perf event waits
for an RCU grace period (60-130 ms here). release_all() therefore closes the
links and leaves the perf events to background threads, which the caller
joins when it closes everything else (Tracer.close()).
"""

from __future__ import annotations

import atexit
import os
from pytrace.runtime import bpf, kernel_consts, perf

TYPE_CHECKING = False  # (typing costs a start ~2 ms)
if TYPE_CHECKING:
    from collections.abc import Callable


class AttachError(Exception):
    """A probe the kernel cannot attach, explained in plain words. `plain`:
    the reason is a whole sentence of its own, printed as bpftrace does
    ("ERROR: Could not resolve address: /bin/bash:0xa"), without the probe."""

    def __init__(self, program, reason: str, hint: str | None = None, plain: bool = False) -> None:
        self.program, self.reason, self.hint, self.plain = program, reason, hint, plain  # program: a ProgramSpec
        super().__init__(reason if plain else f"{program.probe}: {reason}")


class PlaceError(Exception):
    """The attach point names no place to attach to (a symbol missing from
    the binary, an offset outside its function...)."""


def _tracepoint(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    tp_id = perf.tracepoint_id(spec["category"], spec["event"])
    fd = perf.open_tracepoint(tp_id)
    try:
        return _attach_program(fd, prog_fd)
    except BaseException:
        release(fd)
        raise


def _perf_event(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    cpus = perf.online_cpus()
    if spec.get("cpus") == "one":
        cpus = cpus[:1]
    target = pid if pid and spec.get("per_process") else -1  # software/hardware follow -p/-c
    fds: list[int] = []
    try:
        for cpu in cpus:
            if spec["type"] == 0:
                fd = perf.open_hardware(spec["config"], spec.get("period", 0), cpu=cpu, pid=target)
            else:
                fd = perf.open_software(spec["config"], sample_period=spec.get("period", 0),
                                        sample_freq=spec.get("freq", 0), cpu=cpu, pid=target)
            fds.append(fd)
            fds[-1:] = _attach_program(fd, prog_fd)
    except BaseException:
        for fd in fds:
            release(fd)
        raise
    return fds


# Attachment fds whose release must also undo something else (fd -> undo).
_CLEANUPS: dict[int, Callable[[], None]] = {}
# Perf event fds whose program is attached through a BPF link (listed before them):
# once the link is closed, closing these only waits for the kernel.
_LINKED: set[int] = set()


def _attach_program(perf_fd: int, prog_fd: int, link: bool = True) -> list[int]:
    """Attach a program to an opened perf event and enable it; returns the fds that
    hold the attachment, the perf event's last: [link, perf event] through a BPF
    link, or [perf event] (PERF_EVENT_IOC_SET_BPF) where the kernel has no
    perf event links, or refuses one (the ioctl then says why), or when `link`
    is false: a tracefs kprobe event, removed right after its perf event is
    closed, must not be held by a link then."""
    link_fd = None
    if link:
        try:
            link_fd = bpf.link_create(prog_fd, perf_fd, kernel_consts.BPF_PERF_EVENT)
        except bpf.BPFError:
            pass
    if link_fd is None:
        perf.attach_bpf(perf_fd, prog_fd)
        return [perf_fd]
    try:
        perf.enable(perf_fd)
    except BaseException:
        os.close(link_fd)
        raise
    _LINKED.add(perf_fd)
    return [link_fd, perf_fd]


def release(fd: int) -> None:
    """Close an attachment fd and undo whatever its attacher set up with it."""
    _LINKED.discard(fd)
    try:
        os.close(fd)
    except OSError:
        pass
    undo = _CLEANUPS.pop(fd, None)
    if undo is not None:
        undo()


def disable_all(fds: list[int]) -> None:
    """Stop every perf event among these attachment fds firing, at once (their
    programs stay attached until release; other fds are left as they are)."""
    for fd in fds:
        _disable(fd)


def _disable(fd: int) -> None:
    """Stop a perf event firing (a no-op for other attachment fds)."""
    import fcntl

    try:
        fcntl.ioctl(fd, kernel_consts.PERF_EVENT_IOC_DISABLE, 0)
    except OSError:
        pass


def release_all(fds: list[int], threads: int = 32,
                meanwhile: Callable[[], None] | None = None) -> list:
    """Release many attachments at once. When it returns, no program runs any
    more; the returned threads may still be closing perf events whose programs
    went through links (join them before exiting). `meanwhile` runs in this
    thread while the others wait for the kernel.

    Perf events are first disabled, all of them, at once, and the links closed:
    a probe must not fire while the others are being closed (after `exit()`,
    an `interval:ms:1` probe would otherwise run a few more times, as
    bpftrace's does not). Detaching waits for RCU grace periods (a tracepoint's
    perf event 60-130 ms here, a link 20-30 ms) inside close(2), one after the
    other; closed from several threads (close releases the GIL) the waits
    overlap, so detaching N probes takes about one grace period instead of N.
    Each thread closes its share of the links and the other fds, waits for
    the other workers to have done so too (not for `meanwhile`), then closes its share of the linked perf
    events: what comes after the detach (END, the maps) need not wait for those."""
    later = [fd for fd in fds if fd in _LINKED]
    now = [fd for fd in fds if fd not in later]
    disable_all(fds)
    if meanwhile is None and not later and len(now) <= 1:
        for fd in now:
            release(fd)
        return []
    import threading  # (only to detach: not before the probes are attached)

    n = max(1, min(threads, max(len(now), len(later))))
    links_closed = threading.Semaphore(0)    # one release per worker, for the caller
    all_links_closed = threading.Barrier(n)  # among the workers only: they never wait for the caller

    def worker(i: int) -> None:
        try:
            for fd in now[i::n]:
                release(fd)
        finally:
            links_closed.release()
            all_links_closed.wait()
        for fd in later[i::n]:
            release(fd)

    pool = [threading.Thread(target=worker, args=(i,), name="pytrace-detach") for i in range(n)]
    for t in pool:
        t.start()
    if meanwhile is not None:
        meanwhile()
    for _ in range(n):
        links_closed.acquire()
    return pool


@atexit.register
def _release_all() -> None:
    for fd in list(_CLEANUPS):
        release(fd)


def _kprobe(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    func, module, offset = spec["func"], spec.get("module", ""), spec.get("offset", 0)
    use_pmu = perf.pmu_available("kprobe") and os.environ.get("PYTRACE_KPROBE_ATTACH") != "tracefs"
    if use_pmu:
        fd = perf.open_kprobe(f"{module}:{func}" if module else func, offset, spec.get("retprobe", False))
    else:  # no kprobe PMU: a tracefs kprobe event, removed again on release
        from pytrace.runtime import kprobes

        fd, name = kprobes.open_event(func, module, offset, spec.get("retprobe", False))
        _CLEANUPS[fd] = lambda: kprobes.remove_event(name)
    try:
        return _attach_program(fd, prog_fd, link=fd not in _CLEANUPS)
    except BaseException:
        release(fd)
        raise


def _tracing(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    """fentry/fexit: the target function was fixed at load (attach_btf_id)."""
    return [bpf.raw_tracepoint_open(None, prog_fd)]


def attach_each(openers: list[Callable[[], int]], prog_fd: int) -> list[int]:
    """Open perf events one by one and attach the program to each; on any
    failure close what was opened."""
    fds: list[int] = []
    try:
        for open_event in openers:
            fds.append(open_event())
            fds[-1:] = _attach_program(fds[-1], prog_fd)
    except BaseException:
        for fd in fds:
            release(fd)
        raise
    return fds


def _uprobe(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    """uprobe/uretprobe/usdt: resolve the symbol (or address) to a file
    offset now, so a cached program follows a rebuilt binary. A USDT probe
    attaches to each of its locations (the addresses of its nops)."""
    from pytrace.lang import elf

    path = spec["binary"]
    try:
        if "locations" in spec:
            image = elf.open_elf(path)
            offsets = [image.file_offset(vaddr) for vaddr in spec["locations"]]
        else:
            offsets = [elf.uprobe_offset(path, spec["func"], spec.get("offset", 0), spec.get("address"),
                                         spec.get("retprobe", False), spec.get("unsafe", False))]
        semaphore = spec.get("semaphore") or 0
        ref_ctr = elf.open_elf(path).file_offset(semaphore) if semaphore else 0
    except elf.ElfError as e:
        raise PlaceError(str(e)) from None
    return attach_each([lambda o=o: perf.open_uprobe(path, o, spec.get("retprobe", False), pid if pid else -1,
                                                      ref_ctr) for o in offsets], prog_fd)


def _watchpoint(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    """A hardware watchpoint in every thread of the -p/-c process, or on every
    CPU for a kernel address."""
    args = (spec["address"], spec["length"], spec["bp_type"])
    if pid:
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:
            raise perf.PerfError(3, f"no such process: {pid}") from None
        openers = [lambda t=t: perf.open_breakpoint(*args, pid=t) for t in tids]
    else:
        openers = [lambda c=c: perf.open_breakpoint(*args, cpu=c) for c in perf.online_cpus()]
    return attach_each(openers, prog_fd)


def _raw_tracepoint(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    return [bpf.raw_tracepoint_open(spec["name"], prog_fd)]


# The attachers of rarer probe types import their modules when first used (a start imports
# only what its probes need).
def _uprobe_multi(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    from pytrace.runtime import uprobe_multi

    return uprobe_multi.attach(spec, prog_fd, pid)


def _iter(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    from pytrace.runtime import iterators

    return iterators.attach(spec, prog_fd, pid)


def _nothing(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    return []  # BEGIN/END run by test-run, not attached


ATTACHERS: dict[str, Callable[[dict, int, int | None], list[int]]] = {
    "tracepoint": _tracepoint,
    "perf_event": _perf_event,
    "kprobe": _kprobe,
    "raw_tracepoint": _raw_tracepoint,
    "uprobe": _uprobe,
    "uprobe_multi": _uprobe_multi,
    "watchpoint": _watchpoint,
    "tracing": _tracing,
    "iter": _iter,
    "test_run": _nothing,
}


def attach(program, spec: dict, prog_fd: int, pid: int | None = None) -> list[int]:
    """Attach one attach point of a program (a ProgramSpec)."""
    attacher = ATTACHERS.get(spec["kind"])
    if attacher is None:
        raise AttachError(program, f"pytrace cannot attach {spec['kind']} probes yet")
    try:
        return attacher(spec, prog_fd, pid)
    except (perf.PerfError, bpf.BPFError) as e:
        raise AttachError(program, str(e), program.hint) from None
    except PlaceError as e:
        raise AttachError(program, str(e), plain=True) from None
