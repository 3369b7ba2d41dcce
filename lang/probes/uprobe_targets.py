"""What uprobe, uretprobe and usdt share: which binaries an attach point's
target names, as bpftrace decides it.

* `check_target()`: a target without `*` becomes one file (a path, a
  program on $PATH; inside the -p process's mount namespace when it has its
  own); none is an error, of several the first is taken.
* `candidates()`: the files whose symbols or notes a wildcard is matched
  against: everything the -p process maps, plus what the target itself
  names (a glob); `*` without -p is every running process's objects.

Matching is bpftrace's (`*` only, across `:` and `/`), on lines
`PATH:NAME`, in sorted order (lang/binaries.py)."""

from __future__ import annotations

import os
import re

from pytrace.lang import binaries
from pytrace.lang.probes.base import ProbeError


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


def candidates(target: str, pid: int | None, unsafe: bool = False, listing: bool = False) -> list[str]:
    """The files to match `target` against (see the module docstring); for
    `-l`, `*` without -p is a glob (of the current directory and $PATH), as
    in bpftrace."""
    paths: list[str] = []
    if pid:
        paths += binaries.mapped_paths(pid)
    if target != "*" or (listing and not pid):
        paths += binaries.resolve_paths(target, pid, unsafe)
    elif not pid:
        paths += binaries.mapped_paths_all()
    return list(dict.fromkeys(paths))


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
