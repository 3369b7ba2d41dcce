"""BPF iterators (iter probes): attach a program as an iterator link, then
either read the iterator once, its output going to the program's output, or
pin the link in the BPF file system, as bpftrace does.

A read runs the program over every object (every task, every open file of
every task...); what its printf() calls wrote (bpf_seq_printf) is what the
read returns. A pinned link outlives the run: each `cat` of the file runs
the program again."""

from __future__ import annotations

import os
import struct

from pytrace.runtime import bpf
from pytrace.runtime import kernel_consts as K

READ_SIZE = 1 << 16
# union bpf_iter_link_info: task = { u32 tid; u32 pid; u32 pid_fd; }, 16 bytes with the cgroup member
_TASK_INFO = struct.Struct("<IIII")


def attach(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    """BPF_LINK_CREATE with attach type BPF_TRACE_ITER; with -p/-c the task
    iterators visit only that process."""
    if pid:
        return [bpf.link_create(prog_fd, 0, K.BPF_TRACE_ITER, iter_info=_TASK_INFO.pack(0, pid, 0, 0))]
    return [bpf.link_create(prog_fd, 0, K.BPF_TRACE_ITER)]


def read(link_fd: int) -> bytes:
    """Run the iterator once: everything its program wrote, up to the end."""
    fd = bpf.iter_create(link_fd)
    chunks = []
    try:
        while True:
            chunk = os.read(fd, READ_SIZE)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def run(spec: dict, link_fd: int, out) -> bool:
    """What an iterator probe does once attached: pin it (spec "pin") and say
    where, or read it and write its output. False when the kernel refused
    (said on stderr, in bpftrace's words)."""
    pin = spec.get("pin")
    try:
        if pin:
            bpf.obj_pin(link_fd, pin)
            out.text_event("iter", f"Program pinned to {pin}\n")
        else:
            out.text_event("iter", read(link_fd).decode("utf-8", "surrogateescape"))
    except bpf.BPFError as e:
        what = "pin" if pin else "open"
        out.warning(f"ERROR: Failed to {what} iter probe link: {e}\n")
        return False
    return True
