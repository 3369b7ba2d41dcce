"""Where user-space probes live: a probe's binary as bpftrace finds it.

* `resolve_paths(cmd, pid)`: the file(s) a uprobe/usdt target names: the
  path as given (a glob when it has `*`), else each $PATH directory; only
  executables (ET_EXEC with the owner's exec bit) and shared objects
  (ET_DYN) count (with --unsafe, any existing file given without `*`). When
  the -p process lives in another mount namespace, paths are taken inside
  it (`/proc/PID/root/...`) and $PATH is the process's own.
* `which_so(name, pid)`: a library by name (`libc`, `libc.so.6`): first
  among the -p process's mappings, then in the dynamic loader's cache
  (`ldconfig -p`), then in the standard library directories.
* `mapped_paths(pid)`: every object a process maps (its executable first),
  each as `/proc/PID/root/PATH` so it is reachable from any namespace;
  `mapped_paths_all()` does so for every running process.

Everything here reads the host's filesystem and /proc; nothing raises for
a file that vanished or cannot be read (it is just not a candidate)."""

from __future__ import annotations

import os
import re
import stat
import struct
from functools import lru_cache

ET_EXEC, ET_DYN = 2, 3
LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")


def has_wildcard(text: str) -> bool:
    return "*" in text


def wildcard_match(text: str, pattern: str) -> bool:
    """bpftrace's matching: `*` matches any run of characters (`:` and `/`
    too); every other character matches itself."""
    return _wildcard_re(pattern).fullmatch(text) is not None


@lru_cache(maxsize=256)
def _wildcard_re(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(token) for token in pattern.split("*")), re.DOTALL)


# ---------------------------------------------------------------- processes

def pid_root(pid: int) -> str:
    return f"/proc/{pid}/root"


def path_in_pid(pid: int, path: str) -> str:
    """A path as seen inside the process's mount namespace, from ours."""
    root = pid_root(pid)
    if path.startswith(root):
        return path
    return root + ("" if path.startswith("/") else "/") + path


def other_mount_ns(pid: int) -> bool:
    """Whether the process lives in another mount namespace than ours."""
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino
    except OSError:
        return False


def pid_exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def mapped_paths(pid: int) -> list[str]:
    """The process's executable and every file it maps, in order, each
    under /proc/PID/root (deleted files left out)."""
    root = pid_root(pid)
    paths: list[str] = []
    exe = pid_exe(pid)
    if exe and "(deleted)" not in exe:
        paths.append(root + exe)
    for mapped in _maps_pathnames(pid):
        if mapped.startswith("/") and "(deleted)" not in mapped:
            path = root + mapped
            if path not in paths:
                paths.append(path)
    return paths


def _maps_pathnames(pid: int) -> list[str]:
    """The pathname column of /proc/PID/maps, for the lines that have one ([] if unreadable)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [fields[5] for fields in (line.split(None, 5) for line in lines) if len(fields) == 6]


def running_pids() -> list[int]:
    return sorted(int(d) for d in os.listdir("/proc") if d.isdigit())


def mapped_paths_all() -> list[str]:
    """The objects mapped by every running process (sorted, unique)."""
    out: set[str] = set()
    for pid in running_pids():
        if pid != os.getpid():
            out.update(mapped_paths(pid))
    return sorted(out)


# ---------------------------------------------------------------- files

def elf_type(path: str) -> int | None:
    """e_type of a regular ELF file (ET_EXEC, ET_DYN...), None otherwise.
    Reads only the 64-byte header, and never opens a device or a FIFO."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size < 64:
            return None
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return struct.unpack_from("<H" if head[5] != 2 else ">H", head, 16)[0]


def probeable(path: str) -> bool:
    """An executable with the owner's exec bit, or a shared object."""
    kind = elf_type(path)
    if kind == ET_DYN:
        return True
    try:
        return kind == ET_EXEC and bool(os.stat(path).st_mode & stat.S_IXUSR)
    except OSError:
        return False


def _search_path(pid: int | None) -> list[str]:
    """$PATH's directories: the process's own when it lives in another
    mount namespace, else ours."""
    value = os.environ.get("PATH", "")
    if pid and other_mount_ns(pid):
        value = ""
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                for var in f.read().split(b"\0"):
                    if var.startswith(b"PATH="):
                        value = var[5:].decode(errors="replace")
                        break
        except OSError:
            pass
    return [d for d in value.split(":") if d]


def resolve_paths(cmd: str, pid: int | None = None, unsafe: bool = False) -> list[str]:
    """The files a uprobe/usdt target names (see the module docstring)."""
    candidates = [cmd]
    if "/" not in cmd:
        candidates += [os.path.join(d, cmd) for d in _search_path(pid)]
    wildcard = has_wildcard(cmd)
    if wildcard:
        expanded: list[str] = []
        for c in candidates:
            import glob

            expanded.extend(sorted(glob.glob(c)) or [c])
        candidates = expanded
    inside = pid is not None and other_mount_ns(pid)
    out: list[str] = []
    for c in candidates:
        path = path_in_pid(pid, c) if inside else c
        if (unsafe and not wildcard and os.path.exists(path)) or probeable(path):
            out.append(path)
    return out


# ---------------------------------------------------------------- libraries by name

def _soname_prefix(name: str) -> str:
    """`c` -> `libc.so`; `c.so.6` -> `libc.so.6` (what cached sonames start with)."""
    return f"lib{name}" if ".so" in name else f"lib{name}.so"


@lru_cache(maxsize=1)
def ld_cache() -> tuple[tuple[str, str], ...]:
    """(soname, path) of the dynamic loader's cache, 64-bit entries first."""
    import shutil
    import subprocess  # (imported here: start-up time of programs without uprobes)

    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        text = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    entries = []
    for line in text.splitlines()[1:]:
        left, _, path = line.strip().partition(" => ")
        if path:
            entries.append(("x86-64" not in left, left.split(" ")[0], path.strip()))
    return tuple((soname, path) for _, soname, path in sorted(entries, key=lambda e: e[0]))


def _in_process(name: str, pid: int) -> str | None:
    """A library the process maps whose file is `libNAME.…` or `libNAME-…`."""
    for mapped in _maps_pathnames(pid):
        if ".so" in mapped and (f"/lib{name}." in mapped or f"/lib{name}-" in mapped):
            return mapped
    return None


def which_so(name: str, pid: int | None = None) -> str | None:
    """The path of library `name` (without its `lib` prefix: `c`, `c.so.6`)."""
    if "/" in name:
        return name
    if pid:
        found = _in_process(name, pid)
        if found:
            return found
    prefix = _soname_prefix(name)
    for soname, path in ld_cache():
        if soname.startswith(prefix):
            return path
    for d in LIB_DIRS:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for n in names:
            if n.startswith(prefix):
                return os.path.join(d, n)
    return None
