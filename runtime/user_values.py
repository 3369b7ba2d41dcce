"""Values the kernel sends raw and user space turns into text: usernames,
strftime() timestamps, cgroup paths, IP and MAC addresses, buffers.

Each decoder takes the value's layout (lang.types.UserFormatType.layout())
and its bytes; maps.decode dispatches here by layout kind."""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Callable

CGROUP_ROOT = "/sys/fs/cgroup"


def _u64(data: bytes, offset: int = 0) -> int:
    return int.from_bytes(data[offset:offset + 8], "little")


def username(layout: dict, data: bytes) -> str:
    uid = _u64(data) & 0xFFFFFFFF
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


_BOOT_OFFSET_NS: list[int] = []  # wall clock minus CLOCK_BOOTTIME, taken once per run


def boot_offset_ns() -> int:
    """Nanoseconds from CLOCK_BOOTTIME to the wall clock, measured on first use and kept,
    as bpftrace does: timestamps of one run convert consistently."""
    if not _BOOT_OFFSET_NS:
        _BOOT_OFFSET_NS.append(time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME))
    return _BOOT_OFFSET_NS[0]


def boot_ns_to_datetime(ns: int) -> datetime.datetime:
    """A CLOCK_BOOTTIME timestamp (nsecs: bpf_ktime_get_boot_ns) as local wall time."""
    import datetime  # imported when first printed (start-up time)

    secs, rem = divmod(boot_offset_ns() + ns, 1_000_000_000)
    return datetime.datetime.fromtimestamp(secs).replace(microsecond=rem // 1000)


def format_wall_time(fmt: str, wall_ns: int) -> str:
    """strftime(3) of a wall-clock time in nanoseconds, with bpftrace's extensions
    %f (microseconds), %l (milliseconds) and %k (nanoseconds) of the second."""
    secs, rem = divmod(wall_ns, 1_000_000_000)
    for conversion, digits in (("%k", f"{rem:09d}"), ("%f", f"{rem // 1000:06d}"),
                               ("%l", f"{rem // 1_000_000:03d}")):
        fmt = fmt.replace(conversion, digits)
    return time.strftime(fmt, time.localtime(secs))


def strftime(layout: dict, data: bytes) -> str:
    """strftime(3) of the timestamp, with bpftrace's %f, %l and %k."""
    return format_wall_time(layout.get("extra", ""), boot_offset_ns() + _u64(data))


def cgroup_path(layout: dict, data: bytes) -> str:
    """The cgroup v2 path with this id (inode number) under /sys/fs/cgroup."""
    cgid = _u64(data)
    for dirpath, _dirs, _files in os.walk(CGROUP_ROOT):
        try:
            if os.stat(dirpath).st_ino == cgid:
                rel = dirpath[len(CGROUP_ROOT):] or "/"
                return "unified:" + rel
        except OSError:
            continue
    return "unified:(unknown)"


def ntop(layout: dict, data: bytes) -> str:
    import socket  # imported when first printed (start-up time)

    af = _u64(data)
    if af == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, data[8:24])
    return socket.inet_ntop(socket.AF_INET, data[8:12])


def macaddr(layout: dict, data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data[:6])


def buffer(layout: dict, data: bytes) -> bytes:
    """[u32 length][bytes] -> the bytes."""
    length = int.from_bytes(data[:4], "little")
    return bytes(data[4:4 + min(length, layout["size"] - 4)])


DECODERS: dict[str, Callable[[dict, bytes], object]] = {
    "username": username, "strftime": strftime, "cgroup_path": cgroup_path,
    "ntop": ntop, "macaddr": macaddr, "buffer": buffer,
}
