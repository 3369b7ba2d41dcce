"""Kernel headers for bcc in the benchmarks.

bcc compiles its C programs against the running kernel's headers
(/lib/modules/RELEASE/build) or CONFIG_IKHEADERS. Kernels without either (this
development VM's) leave bcc unable to compile anything. For the benchmarks'
programs (a tracepoint counter, a comm-keyed count, a histogram) any recent
kernel's headers do: nothing in them depends on a struct layout. So when the
running kernel has none, Debian's headers package of its own kernel is
downloaded (not installed: `apt-get download`, unpacked under the cache) and
its two halves (the -common sources and the arch's generated headers) merged
into one tree for BCC_KERNEL_SOURCE.

    from pytrace.scripts.bcc_headers import kernel_source
    env["BCC_KERNEL_SOURCE"] = kernel_source()   # None: bcc finds its own
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import tempfile

CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pytrace-bench", "kheaders")


def kernel_source() -> str | None:
    """A kernel header tree for BCC_KERNEL_SOURCE, or None when the running kernel's own
    headers are there (or none could be had: bcc then says why it cannot compile)."""
    release = os.uname().release
    if os.path.isdir(f"/lib/modules/{release}/build") or os.path.exists("/sys/kernel/kheaders.tar.xz"):
        return None
    merged = os.path.join(CACHE, "merged")
    if os.path.exists(os.path.join(merged, "include", "linux", "kconfig.h")):
        return merged
    try:
        return _download(merged)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"# no kernel headers for bcc ({e})")
        return None


def _download(merged: str) -> str | None:
    """Debian's newest linux-headers-*-amd64 (and its -common), unpacked and merged."""
    names = subprocess.run(["apt-cache", "pkgnames", "linux-headers-"], capture_output=True, text=True,
                           check=True).stdout.split()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    versions = sorted((tuple(int(n) for n in m.groups()), m.group(0))
                      for name in names if (m := re.fullmatch(rf"linux-headers-(\d+)\.(\d+)\.(\d+)-(\d+)-{arch}", name)))
    if not versions:
        return None
    package = versions[-1][1]
    common = package.removesuffix(f"-{arch}") + "-common"
    os.makedirs(CACHE, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run(["apt-get", "download", "-q", package, common], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        root = os.path.join(tmp, "root")
        for deb in glob.glob(os.path.join(tmp, "*.deb")):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        src = os.path.join(root, "usr", "src")
        staging = os.path.join(tmp, "merged")
        for half in (common, package):  # the arch's half over the common one
            subprocess.run(["cp", "-a", "--remove-destination", os.path.join(src, half) + "/.", staging + "/"],
                           check=True)
        for name in os.listdir(staging):  # scripts/, tools/: links into linux-kbuild, which bcc does not need
            if os.path.islink(os.path.join(staging, name)):
                os.unlink(os.path.join(staging, name))
        os.rename(staging, merged)
    print(f"# bcc compiles against {package}'s headers (the running kernel has none)")
    return merged
