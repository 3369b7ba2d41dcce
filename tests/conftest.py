import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_root() -> bool:
    return os.geteuid() == 0


needs_root = pytest.mark.skipif(not is_root(), reason="needs root to load BPF programs")


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self) -> str:
        return f"<rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}>"


def run_pytrace(*args: str, stdin: str | None = None, timeout: float = 60, env: dict | None = None) -> Result:
    """Run the pytrace CLI as a user would, with this interpreter."""
    full_env = dict(os.environ, PYTRACE_NO_CACHE="1", **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "pytrace", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=full_env)
    return Result(proc)


def run_begin(body: str, *args: str, **kw) -> Result:
    """Run `BEGIN { body exit(); }` and insist it succeeded."""
    r = run_pytrace(*args, "-e", "BEGIN { " + body + " exit(); }", **kw)
    assert r.rc == 0, r
    return r


def bpf_fds() -> list[str]:
    """This process's open BPF objects, perf events and epoll fds, sorted."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("anon_inode:bpf", "anon_inode:[perf_event]", "anon_inode:[eventpoll]")):
            out.append(target)
    return sorted(out)


def kernel_maps() -> str:
    """`bpftool map list`: every BPF map in the kernel."""
    return subprocess.run(["bpftool", "map", "list"], capture_output=True, text=True).stdout


def map_freed(name: str, wait: float = 3.0) -> bool:
    """Whether a map of this name is gone; the kernel frees a closed map a
    moment after its last fd goes (an RCU grace period), so wait for it."""
    import time

    deadline = time.monotonic() + wait
    while name in kernel_maps():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def py_workload(code: str) -> str:
    """A -c command running Python code (quoted for pytrace's shlex split)."""
    import shlex
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


@pytest.fixture
def pytrace():
    return run_pytrace
