"""iter probes end to end: the iterator read once (its printf output on
stdout), or pinned under /sys/fs/bpf and read with `cat`.

Part of the VM tier (scripts/vm-tests.sh runs tests/kernel in a Debian 6.1
VM); they also run on a host that accepts BPF iterator programs. Each test
looks at one process it started (`-p PID`: the task iterators then visit only
that process), whose name, open files and mappings are known."""

import os
import subprocess
import tempfile
import time

import pytest

from conftest import run_pytrace as _run_pytrace

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("PYTRACE_VM_TIER") == "1"
NAME = "pyt_iter_probe"  # the comm of the traced process


def _iter_refused() -> str | None:
    from pytrace.lang.btf import BTF
    from pytrace.runtime import bpf
    from pytrace.runtime import kernel_consts as K

    try:
        fid = BTF.kernel().find("bpf_iter_task", "func")
    except OSError:
        return "no kernel BTF"
    ok = fid is not None and bpf.probe_prog_type(K.BPF_PROG_TYPE_TRACING, attach_btf_id=fid,
                                                 expected_attach_type=K.BPF_TRACE_ITER)
    return None if ok else "this kernel refuses BPF iterator programs; run scripts/vm-tests.sh"


def run_pytrace(*args: str):
    return _run_pytrace(*args, timeout=300)  # the VM is slow: TCG, ~25x


_REASON = None if IN_VM else _iter_refused()
skip_unless_iter = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture
def target(tmp_path):
    """A process named NAME sleeping (a symlink to sleep), with a known file open
    on fd 3 and /dev/null on 0-2. Yields (pid, path of fd 3)."""
    exe = tmp_path / NAME
    exe.symlink_to("/bin/sleep")
    fd, data = tempfile.mkstemp(prefix="pyt", dir="/tmp")  # a short path: path() prints 64 bytes
    os.close(fd)
    proc = subprocess.Popen(["sh", "-c", f'exec 3<"{data}"; exec "{exe}" 60'], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1000):  # until it sleeps in sleep(1): its loader has set up every mapping
            with open(f"/proc/{proc.pid}/status") as status:
                fields = dict(line.split(":\t", 1) for line in status.read().splitlines() if ":\t" in line)
            if fields.get("Name") == NAME and fields.get("State", "").startswith("S"):
                break
            time.sleep(0.01)
        yield proc.pid, data
    finally:
        proc.kill()
        proc.wait()
        os.unlink(data)


@skip_unless_iter
def test_iter_task_prints_the_comm_and_pid_of_each_task(target):
    pid, _ = target
    r = run_pytrace("-p", str(pid), "-e", 'iter:task { printf("%s:%d\\n", ctx.task.comm, ctx.task.pid); }')
    assert r.rc == 0, r
    assert r.err == "Attached 1 probe\n", r
    assert r.out == f"{NAME}:{pid}\n\n\n", r


@skip_unless_iter
def test_iter_printf_with_several_values(target):
    pid, _ = target
    r = run_pytrace("-p", str(pid), "-e", 'iter:task { printf("%s: %d %u %x %c|\\n", "hello", -5, 7, 255, 65); }')
    assert r.rc == 0, r
    assert r.out.startswith("hello: -5 7 ff A|\n"), r


@skip_unless_iter
def test_iter_task_file_lists_the_open_files(target):
    pid, data = target
    r = run_pytrace("-p", str(pid), "-e",
                    'iter:task_file { printf("%s %d:%s\\n", ctx.task.comm, ctx.fd, path(ctx.file.f_path)); }')
    assert r.rc == 0, r
    assert r.out == "".join(f"{NAME} {fd}:/dev/null\n" for fd in range(3)) + f"{NAME} 3:{data}\n\n\n", r


@skip_unless_iter
def test_iter_task_vma_lists_the_mappings(target):
    pid, _ = target
    with open(f"/proc/{pid}/maps") as f:
        ranges = [line.split()[0] for line in f]
    r = run_pytrace("-p", str(pid), "-e", 'iter:task_vma { printf("%lx-%lx\\n", ctx.vma.vm_start, ctx.vma.vm_end); }')
    assert r.rc == 0, r
    # the kernel's [vsyscall] page is in /proc/PID/maps but is no vma
    assert r.out == "".join(f"{x}\n" for x in ranges if not x.startswith("ffffffffff600000")) + "\n\n", r


@skip_unless_iter
def test_maps_and_other_events_come_after_the_iterator(target):
    pid, _ = target
    r = run_pytrace("-p", str(pid), "-e",
                    'iter:task { @tasks[ctx.task.comm] = count(); printf("seen\\n"); } END { printf("end\\n"); }')
    assert r.rc == 0, r
    assert r.out == f"seen\nend\n\n\n@tasks[{NAME}]: 1\n", r


@skip_unless_iter
def test_a_pinned_iterator_is_read_with_cat(target):
    pid, _ = target
    name = f"pytrace_iter_test_{os.getpid()}"
    pin = f"/sys/fs/bpf/{name}"
    try:
        r = run_pytrace("-p", str(pid), "-e", f'iter:task:{name} {{ printf("%s %d\\n", ctx.task.comm, ctx.task.pid); }}')
        assert r.rc == 0, r
        assert r.out == f"Program pinned to {pin}\n\n\n", r
        first = subprocess.run(["cat", pin], capture_output=True, text=True, check=True).stdout
        again = subprocess.run(["cat", pin], capture_output=True, text=True, check=True).stdout
        assert first == again == f"{NAME} {pid}\n"
    finally:
        if os.path.exists(pin):
            os.unlink(pin)


@skip_unless_iter
def test_an_absolute_pin_path_and_a_bad_one():
    with tempfile.TemporaryDirectory() as d:
        r = run_pytrace("-e", f'iter:task:{d}/nope {{ printf("x"); }}')
    assert r.rc == 1, r
    assert "ERROR: Failed to pin iter probe link" in r.err, r


@skip_unless_iter
def test_the_whole_system_is_visited_without_p():
    r = run_pytrace("-e", "iter:task { if (ctx.task.pid == $1) { printf(\"me %d\\n\", ctx.task.pid); } }",
                    str(os.getpid()))
    assert r.rc == 0, r
    assert r.out == f"me {os.getpid()}\n\n\n", r
