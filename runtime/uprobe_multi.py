"""uprobe_multi links: one BPF link attaches a program to several functions
of one binary (kernel 6.6), as bpftrace attaches a wildcard uprobe/uretprobe.

The attach dict (kind "uprobe_multi", written by lang/probes/uprobe.py) names
the binary and its functions; the program was loaded as a kprobe program with
expected_attach_type BPF_TRACE_UPROBE_MULTI (loader.load_options()). On a
kernel without uprobe_multi links, the program is loaded as a plain kprobe
program and attached with one perf event per function, as any uprobe.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache

from pytrace.runtime import bpf
from pytrace.runtime import kernel_consts as K

BPF_F_UPROBE_MULTI_RETURN = 1  # link_create.uprobe_multi.flags: return probes
# mov r0, 0; exit
_TRIVIAL_PROGRAM = bytes.fromhex("b700000000000000" "9500000000000000")


@lru_cache(maxsize=1)
def supported() -> bool:
    """Whether this kernel has uprobe_multi links (bpftrace's probe: such a
    link on the path "/" is refused with EBADF, not EINVAL).
    PYTRACE_UPROBE_MULTI=0 says no (the per-function fallback, as on 6.1)."""
    if os.environ.get("PYTRACE_UPROBE_MULTI") == "0":
        return False
    try:
        prog = bpf.prog_load(K.BPF_PROG_TYPE_KPROBE, _TRIVIAL_PROGRAM, name="uprobe_multi",
                             expected_attach_type=K.BPF_TRACE_UPROBE_MULTI)
    except (bpf.BPFError, OSError):
        return False
    try:
        link = bpf.link_create_uprobe_multi(prog, "/", [0])
    except bpf.BPFError as e:
        return e.errno == errno.EBADF  # the kernel knows the link type; "/" is no file to probe
    finally:
        os.close(prog)
    os.close(link)
    return True


def load_options() -> dict:
    """BPF_PROG_LOAD's extra fields for a program attached through uprobe_multi links."""
    return {"expected_attach_type": K.BPF_TRACE_UPROBE_MULTI} if supported() else {}


def offsets(spec: dict) -> list[int]:
    """The file offset of each function of the attach dict, with the checks of
    a single uprobe (symbol present, size known or --unsafe)."""
    from pytrace.lang import elf

    return [elf.uprobe_offset(spec["binary"], func, 0, None, spec.get("retprobe", False),
                              spec.get("unsafe", False)) for func in spec["funcs"]]


def attach(spec: dict, prog_fd: int, pid: int | None) -> list[int]:
    """One uprobe_multi link for all the functions (only the -p process's calls
    with a pid), or, without kernel support, one perf event per function."""
    from pytrace.lang import elf
    from pytrace.runtime import attach as attach_mod
    from pytrace.runtime import perf

    try:
        offs = offsets(spec)
    except elf.ElfError as e:
        raise attach_mod.PlaceError(str(e)) from None
    path, retprobe = spec["binary"], spec.get("retprobe", False)
    if not supported():
        return attach_mod.attach_each(
            [lambda o=o: perf.open_uprobe(path, o, retprobe, pid if pid else -1) for o in offs], prog_fd)
    flags = BPF_F_UPROBE_MULTI_RETURN if retprobe else 0
    return [bpf.link_create_uprobe_multi(prog_fd, path, offs, flags, pid or 0)]
