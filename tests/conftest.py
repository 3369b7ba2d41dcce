import os
import subprocess
import sys

import pytest

from pytrace.lang import kernel_view
from pytrace.lang.kernel_view import KernelView
from pytrace.lang.options import Options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The test layers (markers registered in pyproject.toml):
#   kernel  loads BPF into this machine's kernel or reads its tracefs/BTF; needs root
#   vm      tests/kernel: kprobe/fentry, run in a VM by scripts/vm-tests.sh
#   (none)  pure: runs as any user (`pytest -m "not kernel and not vm"`), and
#           compiles for the fixture kernel below, never the host's.
FIXTURE_KERNEL = KernelView.from_directory(os.path.join(ROOT, "tests", "fixtures", "kernel"))


def fixture_options(**options) -> Options:
    """Compile options for the fixture kernel (tests/fixtures/kernel)."""
    return Options(kernel=FIXTURE_KERNEL, **options)


def is_root() -> bool:
    return os.geteuid() == 0


class HostKernelForbidden(KernelView):
    """The host's kernel in a test without the kernel marker: any read is a bug."""

    def _refuse(self, *_args):
        raise AssertionError("a test without @pytest.mark.kernel read the host kernel; "
                             "compile with conftest.fixture_options() or mark the test `kernel`")

    tracepoints = tracepoint_format = available_functions = kernel_symbol = btf = _refuse


@pytest.fixture(autouse=True)
def _test_layer(request, monkeypatch):
    if request.node.get_closest_marker("kernel") or request.node.get_closest_marker("vm"):
        if not is_root():
            pytest.fail("this test loads BPF and needs root; deselect it with -m 'not kernel and not vm'",
                        pytrace=False)
    else:
        monkeypatch.setattr(kernel_view, "_HOST", HostKernelForbidden())


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self) -> str:
        return f"<rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}>"


def run_pytrace(*args: str, stdin: str | None = None, timeout: float = 60, env: dict | None = None) -> Result:
    """Run the pytrace CLI as a user would, with this interpreter."""
    full_env = {**os.environ, "PYTRACE_NO_CACHE": "1", **(env or {})}  # env may turn the cache back on
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
    """A -c command running Python code. Like bpftrace, pytrace splits -c on
    spaces with no quoting, so the code goes into a file named by its hash."""
    import hashlib
    path = f"/tmp/pytrace-workload-{hashlib.sha1(code.encode()).hexdigest()[:16]}.py"
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(code)
        os.replace(tmp, path)
    return f"{sys.executable} {path}"


@pytest.fixture
def pytrace():
    return run_pytrace


def run_passes(text: str, until: str, **options):
    """The CompileContext after the pipeline's passes up to `until` (a
    lang.passes.PIPELINE name), for the fixture kernel; CompileError on errors."""
    from pytrace.lang.passes import analyse
    from pytrace.lang.source import Source

    return analyse(Source("stdin", text), fixture_options(**options), until=until)


def pass_errors(text: str, until: str, **options) -> str:
    """The rendered diagnostics of a program the passes up to `until` reject."""
    from pytrace.lang.diagnostics import CompileError

    with pytest.raises(CompileError) as exc:
        run_passes(text, until, **options)
    return exc.value.diagnostics.render()
