"""What uprobe, uretprobe and usdt share: which binaries an attach point's
target names, as bpftrace decides it.

* `check_target()`: a target without `*` becomes one file (a path, a
  program on $PATH; inside the -p process's mount namespace when it has its
  own); none is an error, of several the first is taken.
* `candidates()`: the files whose symbols or notes a wildcard is matched
  against: everything the -p process maps, plus what the target itself
  names (a glob); `*` without -p is every running process's objects.

Matching is bpftrace's (`*` only, across `:` and `/`), on lines
`PATH:NAME`, in sorted order (lang/binaries.py).

For uprobes a target names at most MAX_TARGET_FILES files: each one's
symbol table is read to match it (~10 ms a file), and `*` without -p names
thousands (every program on $PATH, or every running process's objects),
which took tens of seconds. Past the limit the attach point is refused with
the count and a hint, as bpftrace refuses a wildcard past max_probes. usdt
reads only the files' note sections (2,000 files in well under a second)
and has no limit."""

from __future__ import annotations

import os
import re

from pytrace.lang import binaries
from pytrace.lang.probes.base import ProbeError

MAX_TARGET_FILES = 256
MAX_TARGET_FILES_ENV = "PYTRACE_MAX_TARGET_FILES"


def check_target(provider: str, target: str, pid: int | None, unsafe: bool) -> str:
    """The target as the probe will name it: resolved to its file unless it
    is a wildcard (then the matching decides)."""
    if target == "*":
        return target
    paths = binaries.resolve_paths(target, pid, unsafe)
    if not paths:
        raise ProbeError(f"{provider} target file '{target}' does not exist or is not executable")
    if binaries.has_wildcard(target):
        return target
    return paths[0]  # like a shell, the first on $PATH


def candidates(target: str, pid: int | None, unsafe: bool = False, listing: bool = False,
               provider: str = "", limit: int | None = None) -> list[str]:
    """The files to match `target` against (see the module docstring); for
    `-l`, `*` without -p is a glob (of the current directory and $PATH), as
    in bpftrace. More than `limit` of them is a ProbeError (of `provider`)."""
    paths: list[str] = []
    if pid:
        paths += binaries.mapped_paths(pid)
    if target != "*" or (listing and not pid):
        paths += binaries.resolve_paths(target, pid, unsafe)
    elif not pid:
        paths += binaries.mapped_paths_all()
    paths = list(dict.fromkeys(paths))
    if limit is not None and len(paths) > limit:
        what = " (every running process's objects)" if target == "*" and not pid and not listing else ""
        raise ProbeError(
            f"{provider} target '{target}' names {len(paths)} files{what}, more than the limit of {limit} files whose "
            "symbols are read for one attach point",
            [f"name the binary ({provider}:/path/to/binary:...) or a narrower glob, or give -p PID; "
             f"the limit can be raised through the {MAX_TARGET_FILES_ENV} environment variable"])
    return paths


def max_target_files() -> int:
    """MAX_TARGET_FILES, or the environment's PYTRACE_MAX_TARGET_FILES."""
    value = os.environ.get(MAX_TARGET_FILES_ENV, "")
    return int(value) if value.isdigit() else MAX_TARGET_FILES


def abs_target(target: str) -> str | None:
    """An existing target made absolute and canonical (bpftrace's abs_path;
    None when it does not exist), except /proc/PID/root/... paths, which
    only the kernel can follow."""
    if re.match(r"/proc/\d+/root/", target):
        return target
    if not os.path.exists(target):
        return None
    return os.path.realpath(os.path.abspath(target))


def match_lines(lines: list[tuple[str, ...]], pattern: str) -> list[tuple[str, ...]]:
    """The (path, name...) entries whose `path:name...` line matches pattern,
    sorted by that line, without duplicates."""
    found = {":".join(entry): entry for entry in lines
             if binaries.wildcard_match(":".join(entry), pattern)}
    return [found[line] for line in sorted(found) if ".part." not in line]
