"""The process's title: what `ps`, `pidof` and /proc/PID/cmdline show.

pytrace is a Python script, so the kernel sees `python3 /path/pytrace ARGS`: /proc/PID/cmdline
starts with the interpreter and `pidof pytrace` (which matches argv[0]) finds nothing. bpftrace
is found by its name (`kill -s USR1 $(pidof bpftrace)`), so the command line is rewritten to what
it would be for a program of our own: the script as invoked, then its arguments. The arguments
live in the process's memory between arg_start and arg_end (from /proc/self/stat); the new title
is shorter than the old (it drops the interpreter), so it is written over it in place, and the
area's end is moved to its end (prctl PR_SET_MM_ARG_END, root only; otherwise the rest is NULs).
The main thread's name (comm) is set to the script's name too (PR_SET_NAME).
"""

from __future__ import annotations

import os
import sys

PR_SET_NAME = 15
PR_SET_MM = 35
PR_SET_MM_ARG_END = 9
COMM_LEN = 16  # TASK_COMM_LEN, with the NUL

# /proc/PID/stat fields (proc(5), counted from 1): arg_start and arg_end.
_ARG_START_FIELD, _ARG_END_FIELD = 48, 49


def title_for(argv: list[str]) -> bytes:
    """The command line, as the kernel keeps it: each argument NUL-terminated."""
    return b"".join(os.fsencode(a) + b"\0" for a in argv)


def arg_area(stat: str) -> tuple[int, int]:
    """(arg_start, arg_end) from the text of /proc/PID/stat (the name may hold spaces and `)`)."""
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return int(fields[_ARG_START_FIELD - 3]), int(fields[_ARG_END_FIELD - 3])


def set_title(argv: list[str]) -> bool:
    """Make this process's command line `argv` and its name argv[0]'s base name. Returns
    whether the command line was rewritten (never raises: a title is cosmetic)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        name = ctypes.create_string_buffer(os.fsencode(os.path.basename(argv[0]))[:COMM_LEN - 1])
        libc.prctl(PR_SET_NAME, ctypes.addressof(name), 0, 0, 0)
        with open("/proc/self/stat") as f:
            start, end = arg_area(f.read())
        title = title_for(argv)
        if not start or len(title) > end - start:
            return False
        ctypes.memmove(start, title + b"\0" * (end - start - len(title)), end - start)
        libc.prctl(PR_SET_MM, PR_SET_MM_ARG_END, start + len(title), 0, 0)
        return True
    except (OSError, ValueError, IndexError, AttributeError):
        return False


def set_from_command_line() -> bool:
    """Title the process as the command it was started as (`/path/pytrace ARGS`, or a symlink's
    name): not when run as `python -m pytrace` (argv[0] is then a .py file)."""
    if not sys.argv or not sys.argv[0] or sys.argv[0].endswith(".py") or sys.argv[0] == "-c":
        return False
    return set_title(sys.argv)
