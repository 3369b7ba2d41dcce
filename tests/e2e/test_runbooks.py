"""Runbook scripts (scripts/*.bt) run through their `#!/usr/bin/env pytrace`
line, as a user runs them, each against a workload whose effect is known."""

import os
import re
import stat
import subprocess
import sys

import pytest

from conftest import ROOT, py_workload

pytestmark = pytest.mark.kernel

SCRIPTS = os.path.join(ROOT, "scripts")
BIN = os.path.dirname(sys.executable)
RUNBOOKS = sorted(f[:-3] for f in os.listdir(SCRIPTS) if f.endswith(".bt"))


def run_script(name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """./scripts/NAME.bt ARGS through its shebang, with this interpreter's pytrace first on PATH."""
    if not os.access(os.path.join(BIN, "pytrace"), os.X_OK):
        pytest.skip(f"no pytrace console script next to {sys.executable} (pip install -e .)")
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), PYTRACE_NO_CACHE="1")
    return subprocess.run([f"./scripts/{name}.bt", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def lines_of(out: str, pattern: str) -> list[re.Match]:
    return [m for m in (re.fullmatch(pattern, line) for line in out.splitlines()) if m]


def comm_workload(comm: str, code: str) -> str:
    """A Python workload that first renames itself (comm) so its lines are easy to pick out."""
    return py_workload(f"open('/proc/self/comm', 'w').write({comm!r})\n" + code)


def test_every_runbook_is_an_executable_pytrace_script():
    assert {"execsnoop", "opensnoop", "syscount", "killsnoop", "statsnoop", "pidpersec", "runqlat",
            "bitesize", "naptime", "setuids", "syncsnoop", "writeback", "cpuwalk"} <= set(RUNBOOKS)
    for name in RUNBOOKS:
        path = os.path.join(SCRIPTS, f"{name}.bt")
        with open(path) as f:
            assert f.readline() == "#!/usr/bin/env pytrace\n", name
        assert os.stat(path).st_mode & stat.S_IXUSR, f"{name}.bt is not executable"


@pytest.mark.parametrize("name", RUNBOOKS)
def test_runbook_passes_the_verifier(name):
    r = run_script(name, "--verify-only")
    assert r.returncode == 0, r
    assert "WARNING" not in r.stderr, r


def test_execsnoop_sees_the_exec_and_its_arguments():
    script = "/tmp/pytrace-echo3.sh"  # -c splits on spaces with no quoting, as bpftrace's does
    with open(script, "w") as f:
        f.write("/bin/echo one two three; exit 0\n")
    r = run_script("execsnoop", "-c", f"/bin/sh {script}")
    assert r.returncode == 0, r
    assert r.stdout.startswith("TIME(ms)   PID     PPID    ARGS\n"), r
    sh = lines_of(r.stdout, rf"\d+ +(\d+) +(\d+) +/bin/sh {script}")
    echo = lines_of(r.stdout, r"\d+ +(\d+) +(\d+) +/bin/echo one two three")
    assert len(sh) == 1 and len(echo) == 1, r
    assert echo[0].group(2) == sh[0].group(1), "echo's parent is the shell"
    assert "one two three\n" in r.stdout  # the command's own output


def test_opensnoop_sees_a_successful_and_a_failed_open():
    code = "open('/etc/hostname').close()\ntry:\n    open('/nonexistent/pytrace-x')\nexcept OSError:\n    pass"
    r = run_script("opensnoop", "-c", comm_workload("opener", code))
    assert r.returncode == 0, r
    assert r.stdout.startswith("PID     COMM               FD ERR PATH\n"), r
    assert len(lines_of(r.stdout, r"\d+ +opener +\d+ +0 /etc/hostname")) == 1, r
    assert len(lines_of(r.stdout, r"\d+ +opener +-1 +2 /nonexistent/pytrace-x")) == 1, r


def test_syscount_counts_the_child_getppid_calls():
    # Enough calls to be in the top 10 on a busy machine; nothing else calls getppid (110 on x86_64).
    r = run_script("syscount", "-c", py_workload("import os\nfor _ in range(100000): os.getppid()"))
    assert r.returncode == 0, r
    assert "\nTop 10 syscalls IDs:\n" in r.stdout and "\nTop 10 processes:\n" in r.stdout, r
    counts = [int(m.group(1)) for m in lines_of(r.stdout, r"@syscall\[110\]: (\d+)")]
    assert counts and counts[0] >= 100000, r  # other tests running at the same time may add a few
    ids = lines_of(r.stdout, r"@syscall\[\d+\]: \d+")
    assert 0 < len(ids) <= 10, r


def test_killsnoop_sees_the_signal_and_the_target():
    code = ("import os, signal, subprocess\np = subprocess.Popen(['sleep', '10'])\n"
            "print('target', p.pid, flush=True)\nos.kill(p.pid, signal.SIGTERM)\np.wait()\n"
            "try:\n    os.kill(4000000, 0)\nexcept OSError:\n    pass")
    r = run_script("killsnoop", "-c", comm_workload("killer", code))
    assert r.returncode == 0, r
    target = re.search(r"^target (\d+)$", r.stdout, re.M).group(1)
    assert len(lines_of(r.stdout, rf"\d\d:\d\d:\d\d +\d+ +killer +15 +{target} +0")) == 1, r
    assert len(lines_of(r.stdout, r"\d\d:\d\d:\d\d +\d+ +killer +0 +4000000 +-3")) == 1, r  # ESRCH


def test_statsnoop_sees_stat_and_statfs():
    code = ("import os\nos.stat('/etc/hostname')\ntry:\n    os.stat('/nonexistent/pytrace-s')\n"
            "except OSError:\n    pass\nos.statvfs('/etc')")
    r = run_script("statsnoop", "-c", comm_workload("statter", code))
    assert r.returncode == 0, r
    assert len(lines_of(r.stdout, r"\d+ +statter +0 /etc/hostname")) == 1, r
    assert len(lines_of(r.stdout, r"\d+ +statter +2 /nonexistent/pytrace-s")) == 1, r
    assert len(lines_of(r.stdout, r"\d+ +statter +0 /etc")) == 1, r


def test_pidpersec_counts_the_child_forks():
    code = ("import os, time\nfor _ in range(20):\n    p = os.fork()\n    if p == 0:\n        os._exit(0)\n"
            "    os.waitpid(p, 0)\ntime.sleep(1.3)")
    r = run_script("pidpersec", "-c", py_workload(code))
    assert r.returncode == 0, r
    rates = [int(m.group(1)) for m in lines_of(r.stdout, r"\d\d:\d\d:\d\d PIDs/sec: (\d+)")]
    assert rates and sum(rates) >= 20, r


def test_runqlat_histogram():
    r = run_script("runqlat", "-c", py_workload("import time\nfor _ in range(50): time.sleep(0.001)"))
    assert r.returncode == 0, r
    assert "\n@usecs:\n" in r.stdout, r
    counts = [int(m.group(1)) for m in lines_of(r.stdout, r"\[[^\]]+\) +(\d+) \|[ @]+\|")]
    assert sum(counts) >= 50, r  # at least the 50 wakeups of the child


DIRECT_IO = """
import mmap, os, tempfile
path = tempfile.mktemp(dir='/var/tmp')
with open(path, 'wb') as f:
    f.write(os.urandom(1 << 20))
    f.flush()
    os.fsync(f.fileno())
open('/proc/self/comm', 'w').write('biteswl')
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 16384)
for i in range(8):
    os.preadv(fd, [memoryview(buf)[:4096]], i * 65536)
for i in range(3):
    os.preadv(fd, [buf], 524288 + i * 65536)
os.close(fd)
os.unlink(path)
"""


def _direct_io_supported() -> bool:
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(dir="/var/tmp") as f:
            os.close(os.open(f.name, os.O_RDONLY | os.O_DIRECT))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _direct_io_supported(), reason="/var/tmp does not support O_DIRECT (no block device under it)")
def test_bitesize_histogram_of_direct_reads():
    # O_DIRECT reads of a file on /var/tmp (ext4 on /dev/vda here) bypass the page
    # cache: each read is one block request of exactly its size.
    r = run_script("bitesize", "-c", py_workload(DIRECT_IO))
    assert r.returncode == 0, r
    assert "I/O size (bytes) histograms by process name:\n" in r.stdout, r
    assert ("\n@[biteswl]:\n"
            "[4K, 8K)               8 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
            "[8K, 16K)              0 |                                                    |\n"
            "[16K, 32K)             3 |@@@@@@@@@@@@@@@@@@@                                 |\n") in r.stdout, r


@pytest.mark.skipif(not _direct_io_supported(), reason="/var/tmp does not support O_DIRECT (no block device under it)")
def test_biolatency_histogram_of_direct_reads():
    r = run_script("biolatency", "-c", py_workload(DIRECT_IO))
    assert r.returncode == 0, r
    counts = [int(m.group(1)) for m in lines_of(r.stdout, r"\[[^\]]+\) +(\d+) \|[ @]+\|")]
    # Not all 11: a completion interrupt that lands while another BPF program runs on
    # that CPU is skipped by the kernel (counted as a miss), for bpftrace too.
    assert sum(counts) >= 1, r


def test_naptime_sees_a_quarter_second_sleep():
    r = run_script("naptime", "-c", "sleep 0.25")  # coreutils sleep: a relative clock_nanosleep
    assert r.returncode == 0, r
    assert r.stdout.startswith("TIME     PPID    PCOMM            PID     COMM             SECONDS\n"), r
    assert len(lines_of(r.stdout, r"\d\d:\d\d:\d\d \d+ +\S+ +\d+ +sleep +0\.250")) == 1, r


def test_setuids_sees_each_call():
    code = "import ctypes, os\nos.setuid(0)\nos.setresuid(-1, 0, -1)\nctypes.CDLL(None).setfsuid(0)"
    r = run_script("setuids", "-c", comm_workload("uidwl", code))
    assert r.returncode == 0, r
    assert lines_of(r.stdout, r"\d\d:\d\d:\d\d \d+ +uidwl +0 +setuid +uid=0 \(0\)"), r
    assert lines_of(r.stdout, r"\d\d:\d\d:\d\d \d+ +uidwl +0 +setresuid ruid=-1 euid=0 suid=-1 \(0\)"), r
    assert lines_of(r.stdout, r"\d\d:\d\d:\d\d \d+ +uidwl +0 +setfsuid +uid=0 \(prevuid=0\)"), r


def test_syncsnoop_sees_fsync_fdatasync_and_sync():
    code = ("import os, tempfile\nfd, path = tempfile.mkstemp(dir='/var/tmp')\nos.write(fd, b'x')\n"
            "os.fsync(fd)\nos.fdatasync(fd)\nos.sync()\nos.close(fd)\nos.unlink(path)")
    r = run_script("syncsnoop", "-c", comm_workload("syncer", code))
    assert r.returncode == 0, r
    events = [m.group(1) for m in lines_of(r.stdout, r"\d\d:\d\d:\d\d +\d+ +syncer +tracepoint:syscalls:sys_enter_(\w+)")]
    assert events == ["fsync", "fdatasync", "sync"], r


def test_writeback_sees_the_sync_flush():
    code = ("import os, tempfile\nfd, path = tempfile.mkstemp(dir='/var/tmp')\n"
            "os.write(fd, os.urandom(4 << 20))\nos.close(fd)\nos.sync()\nos.unlink(path)")
    r = run_script("writeback", "-c", py_workload(code))
    assert r.returncode == 0, r
    assert r.stdout.startswith("TIME      DEVICE   PAGES    REASON           ms\n"), r
    # sync(2) wakes the flusher with reason WB_REASON_SYNC for the dirty 4 MiB
    assert lines_of(r.stdout, r"\d\d:\d\d:\d\d +\S+ +-?\d+ +sync +\d+\.\d{3}"), r


def test_cpuwalk_sees_a_busy_child():
    code = "import time\nt = time.time()\nwhile time.time() - t < 0.5:\n    pass"
    r = run_script("cpuwalk", "-c", py_workload(code))
    assert r.returncode == 0, r
    assert "\n@cpu:\n" in r.stdout, r
    buckets = lines_of(r.stdout, r"\[(\d+)\] +(\d+) \|[ @]+\|")
    assert buckets and all(int(m.group(1)) < os.cpu_count() for m in buckets), r
    assert sum(int(m.group(2)) for m in buckets) >= 20, r  # 0.5 s busy at 99 Hz: ~49 samples


def test_threadsnoop_sees_a_python_thread():
    code = "import threading\nt = threading.Thread(target=lambda: None)\nt.start()\nt.join()"
    r = run_script("threadsnoop", "-c", comm_workload("threader", code))
    assert r.returncode == 0, r
    assert len(lines_of(r.stdout, r"\d+ +\d+ +threader +\S+")) == 1, r
