"""bpftrace's own tools (Debian's bpftrace package, /usr/sbin/*.bt), unchanged.

Every tool must load through the kernel's verifier with `pytrace --verify-only`
(kprobe tools too: they load here although they cannot attach), except the
ones in CANNOT_WORK, each failing for the reason given (checked, so the list
stays true). The tracepoint tools also run against a workload."""

import glob
import os
import re

import pytest

from conftest import py_workload, run_pytrace

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not glob.glob("/usr/sbin/*.bt"),
                                             reason="bpftrace's tools (/usr/sbin/*.bt) are not installed")]

TOOLS = sorted(os.path.basename(p)[:-3] for p in glob.glob("/usr/sbin/*.bt"))

# tool -> (why it cannot work here, text its error must contain)
CANNOT_WORK = {
    "loads": ("/proc/kallsyms lists no data symbols here (CONFIG_KALLSYMS_ALL is off), so kaddr(\"avenrun\") "
              "cannot be resolved", "Failed to resolve kernel symbol: avenrun"),
    "runqlen": ("its struct cfs_rq is for kernels without BTF (#ifndef BPFTRACE_HAVE_BTF); this kernel's "
                "cfs_rq counts nr_queued, not nr_running (bpftrace 0.17 gives the same error)",
                "does not contain a field named 'nr_running'"),
    "sslsnoop": ("OpenSSL 3's libcrypto exports no rsa_ossl_public_encrypt/decrypt to probe",
                 "No matches for uprobe /lib/x86_64-linux-gnu/libcrypto.so.3:rsa_ossl_public_encrypt."),
    "ssllatency": ("OpenSSL 3's libcrypto exports no rsa_ossl_public_encrypt/decrypt to probe",
                   "No matches for uprobe /lib/x86_64-linux-gnu/libcrypto.so.3:rsa_ossl_public_encrypt."),
    "threadsnoop": ("glibc 2.34+ moved pthread_create from libpthread into libc (scripts/threadsnoop.bt "
                    "probes libc)", "No matches for uprobe /lib/x86_64-linux-gnu/libpthread.so.0:pthread_create."),
}


def verify(tool: str):
    return run_pytrace("--verify-only", f"/usr/sbin/{tool}.bt", timeout=180)


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_passes_the_verifier(tool):
    r = verify(tool)
    if tool in CANNOT_WORK:
        why, message = CANNOT_WORK[tool]
        assert r.rc != 0, f"{tool} works now: take it off CANNOT_WORK ({why})"
        assert message in r.err, r
        assert "Traceback" not in r.err, r
        return
    assert r.rc == 0, r
    assert re.search(r"^(\d+) of \1 programs passed the kernel's verifier$", r.out + r.err, re.M), r


def _tool(tool: str, cmd: str):
    return run_pytrace(f"/usr/sbin/{tool}.bt", "-c", cmd, timeout=60)


def _renamed(comm: str, code: str) -> str:
    return py_workload(f"open('/proc/self/comm', 'w').write({comm!r})\n" + code)


def test_run_opensnoop():
    code = "open('/etc/hostname').close()\ntry:\n    open('/nonexistent/bt-tool')\nexcept OSError:\n    pass"
    r = _tool("opensnoop", _renamed("btopen", code))
    assert r.rc == 0, r
    assert "PID    COMM               FD ERR PATH\n" in r.out, r
    assert re.search(r"^\d+ +btopen +\d+ +0 /etc/hostname$", r.out, re.M), r
    assert re.search(r"^\d+ +btopen +-1 +2 /nonexistent/bt-tool$", r.out, re.M), r


def test_run_syscount():
    r = _tool("syscount", py_workload("import os\nfor _ in range(100000): os.getppid()"))
    assert r.rc == 0, r
    assert "Top 10 syscalls IDs:\n" in r.out and "Top 10 processes:\n" in r.out, r
    m = re.search(r"^@syscall\[110\]: (\d+)$", r.out, re.M)
    assert m and int(m.group(1)) >= 100000, r


def test_run_killsnoop():
    code = ("import os, signal, subprocess\np = subprocess.Popen(['sleep', '10'])\n"
            "print('target', p.pid, flush=True)\nos.kill(p.pid, signal.SIGTERM)\np.wait()")
    r = _tool("killsnoop", _renamed("btkill", code))
    assert r.rc == 0, r
    target = re.search(r"^target (\d+)$", r.out, re.M).group(1)
    assert re.search(rf"^\d\d:\d\d:\d\d +\d+ +btkill +15 +{target} +0$", r.out, re.M), r


def test_run_statsnoop():
    r = _tool("statsnoop", "stat /etc/hostname")  # coreutils stat uses statx
    assert r.rc == 0, r
    assert re.search(r"^\d+ +stat +0 /etc/hostname$", r.out, re.M), r


def test_run_setuids_and_syncsnoop():
    code = "import os\nos.setuid(0)\nos.sync()"
    r = _tool("setuids", _renamed("btuid", code))
    assert r.rc == 0, r
    assert re.search(r"^\d\d:\d\d:\d\d \d+ +btuid +0 +setuid +uid=0 \(0\)$", r.out, re.M), r
    r = _tool("syncsnoop", _renamed("btsync", code))
    assert r.rc == 0, r
    assert re.search(r"^\d\d:\d\d:\d\d +\d+ +btsync +tracepoint:syscalls:sys_enter_sync$", r.out, re.M), r


def test_run_naptime():
    # 0.17's naptime traces nanosleep(2) only; glibc sleeps with clock_nanosleep, so call it directly.
    code = ("import ctypes, struct\nts = ctypes.create_string_buffer(struct.pack('qq', 0, 120000000))\n"
            "ctypes.CDLL(None).syscall(35, ts, None)")
    r = _tool("naptime", _renamed("btnap", code))
    assert r.rc == 0, r
    assert re.search(r"^\d\d:\d\d:\d\d \d+ +\S+ +\d+ +btnap +0\.120$", r.out, re.M), r


def test_run_pidpersec():
    code = ("import os, time\nfor _ in range(10):\n    p = os.fork()\n    if p == 0:\n        os._exit(0)\n"
            "    os.waitpid(p, 0)\ntime.sleep(1.2)")
    r = _tool("pidpersec", py_workload(code))
    assert r.rc == 0, r
    counts = [int(n) for n in re.findall(r"PIDs/sec: @: (\d+)", r.out)]
    assert counts and sum(counts) >= 10, r


def test_run_runqlen(tmp_path):
    # Debian's runqlen.bt reads cfs_rq.nr_running, nr_queued on this kernel (see CANNOT_WORK).
    with open("/usr/sbin/runqlen.bt") as f:
        text = f.read().replace("$my_q->nr_running", "$my_q->nr_queued")
    (tmp_path / "runqlen.bt").write_text(text)
    r = run_pytrace(str(tmp_path / "runqlen.bt"), "-c", "sleep 0.3", timeout=60)
    assert r.rc == 0, r
    assert "\n@runqlen:\n" in r.out and re.search(r"^\[0\] +\d+ \|", r.out, re.M), r


def test_run_execsnoop():
    script = "/tmp/pytrace-echo2.sh"  # -c splits on spaces with no quoting, as bpftrace's does
    with open(script, "w") as f:
        f.write("/bin/echo one two; exit 0\n")
    r = _tool("execsnoop", f"/bin/sh {script}")
    assert r.rc == 0, r
    assert r.out.startswith("TIME(ms)   PID   ARGS\n"), r
    assert re.search(rf"^\d+ +\d+ +/bin/sh {script}$", r.out, re.M), r
    assert re.search(r"^\d+ +\d+ +/bin/echo one two$", r.out, re.M), r
