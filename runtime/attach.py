"""Attach loaded programs to kernel events: one attacher per mechanism,
keyed by the attach spec's "kind" (written by the probe's provider).

An attacher returns the file descriptors that keep the attachment alive;
closing them detaches (disabling a perf event does not stop its program).
"""

from __future__ import annotations

import os
from typing import Callable

from pytrace.runtime import bpf, perf


class AttachError(Exception):
    """A probe the kernel cannot attach, explained in plain words."""

    def __init__(self, program, reason: str, hint: str | None = None) -> None:
        self.program, self.reason, self.hint = program, reason, hint  # program: a ProgramSpec
        super().__init__(f"{program.probe}: {reason}")


def _tracepoint(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    tp_id = perf.tracepoint_id(spec["category"], spec["event"])
    fd = perf.open_tracepoint(tp_id)
    try:
        perf.attach_bpf(fd, prog_fd)
    except BaseException:
        os.close(fd)
        raise
    return [fd]


def _perf_event(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    cpus = perf.online_cpus()
    if spec.get("cpus") == "one":
        cpus = cpus[:1]
    fds: list[int] = []
    try:
        for cpu in cpus:
            if spec["type"] == 0:
                fd = perf.open_hardware(spec["config"], spec.get("period", 0), cpu=cpu)
            else:
                fd = perf.open_software(spec["config"], sample_period=spec.get("period", 0),
                                        sample_freq=spec.get("freq", 0), cpu=cpu)
            fds.append(fd)
            perf.attach_bpf(fd, prog_fd)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _kprobe(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    fd = perf.open_kprobe(spec["func"], spec.get("offset", 0), spec.get("retprobe", False))
    try:
        perf.attach_bpf(fd, prog_fd)
    except BaseException:
        os.close(fd)
        raise
    return [fd]


def _raw_tracepoint(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    return [bpf.raw_tracepoint_open(spec["name"], prog_fd)]


def _nothing(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    return []  # BEGIN/END run by test-run, not attached


ATTACHERS: dict[str, Callable[[dict, int, int | None], list[int]]] = {
    "tracepoint": _tracepoint,
    "perf_event": _perf_event,
    "kprobe": _kprobe,
    "raw_tracepoint": _raw_tracepoint,
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
