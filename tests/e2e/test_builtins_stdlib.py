"""End-to-end: the builtins of lang/builtins_process.py and
lang/builtins_strings.py on the live kernel, exact output."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import py_workload, run_begin, run_pytrace

pytestmark = pytest.mark.kernel

PYTHON_COMM = os.path.basename(sys.executable)[:15]  # the comm of a process exec'd as sys.executable


def test_builtins_as_functions_and_builtin_spellings():
    r = run_begin('printf("%d %d %d %d %d %d\\n", pid() == pid, tid() == tid, cpu() == cpu, comm() == comm, '
                  '__builtin_comm == comm, __builtin_ncpus == ncpus);')
    assert r.out == "1 1 1 1 1 1\n\n\n", r


def test_pid_and_tid_namespaces_outside_a_namespace():
    r = run_begin('printf("%d %d %d %d\\n", pid(init) == pid, pid(curr_ns) == pid, tid(init) == tid, '
                  'tid(curr_ns) == tid);')
    assert r.out == "1 1 1 1\n\n\n", r


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_pid_inside_a_pid_namespace():
    """pytrace alone in a new PID namespace is pid 1 there; pid(init) is its pid outside."""
    program = ('BEGIN { printf("%d %d %d %d %d\\n", pid, pid(curr_ns), tid, pid(init) > 1, '
               'tid(init) == pid(init)); exit(); }')
    proc = subprocess.run(["unshare", "--fork", "--pid", "--mount-proc", sys.executable, "-m", "pytrace",
                           "-e", program], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    assert proc.returncode == 0, proc
    assert proc.stdout == "1 1 1 1 1\n\n\n", proc


def test_parent_and_leader_of_a_thread():
    code = "import os, threading\nos.getppid()\nt = threading.Thread(target=os.getppid)\nt.start()\nt.join()"
    r = run_pytrace("-e", 'tracepoint:syscalls:sys_exit_getppid /pid == cpid/ { printf("%d %s %s %d %d\\n", '
                    'ppid == args->ret, pcomm, leader_comm, leader_tid == pid, tid == pid); }',
                    "-c", py_workload(code))
    assert r.rc == 0, r
    assert r.out == f"1 {PYTHON_COMM} {PYTHON_COMM} 1 1\n1 {PYTHON_COMM} {PYTHON_COMM} 1 0\n\n\n", r


def test_task_relatives_of_a_given_task():
    r = run_begin('printf("%d %d %d %d\\n", ppid(curtask) == ppid, pcomm(curtask) == pcomm, '
                  'leader_tid(curtask) == pid, leader_comm(curtask) == comm);')
    assert r.out == "1 1 1 1\n\n\n", r


def test_usermode_probetype_has_cpid():
    r = run_begin('printf("%d %s %d\\n", usermode, probetype, has_cpid);')
    assert r.out == "1 special 0\n\n\n", r
    r = run_pytrace("-e", 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d %s %d %s\\n", '
                    'usermode, probetype, has_cpid, __builtin_probetype); }',
                    "-c", py_workload("import os\nos.getppid()"))
    assert r.out == "0 tracepoint 1 tracepoint\n\n\n", r


def test_clocks():
    """nsecs and elapsed use CLOCK_BOOTTIME, as bpftrace's; nsecs(mode) reads the others."""
    before = {c: time.clock_gettime_ns(c) for c in (time.CLOCK_BOOTTIME, time.CLOCK_MONOTONIC, time.CLOCK_TAI)}
    r = run_begin('printf("%llu %llu %llu %llu %llu %llu %llu\\n", nsecs, nsecs(), nsecs(boot), '
                  'nsecs(monotonic), nsecs(tai), nsecs(sw_tai), elapsed);')
    after = {c: time.clock_gettime_ns(c) for c in before}
    nsecs, plain, boot, mono, tai, sw_tai, elapsed = map(int, r.out.split())
    for value in (nsecs, plain, boot):
        assert before[time.CLOCK_BOOTTIME] < value < after[time.CLOCK_BOOTTIME], r
    assert before[time.CLOCK_MONOTONIC] < mono < after[time.CLOCK_MONOTONIC], r
    assert before[time.CLOCK_TAI] < tai < after[time.CLOCK_TAI], r
    assert abs(sw_tai - tai) < 50_000_000, r  # the offset is measured when the program is loaded
    assert 0 < elapsed < after[time.CLOCK_BOOTTIME] - before[time.CLOCK_BOOTTIME], r


def test_name_tables():
    r = run_begin('print(strerror(22)); print(strerror(-2)); print(strerror(41)); print(strerror(100000)); '
                  'print(signal_name(2)); print(signal_name(0)); print(signal_name(34)); print(signal_name(1024)); '
                  'print(signal_name(-1)); print(syscall_name(0)); print(syscall_name(59)); '
                  'print(syscall_name(547)); print(syscall_name(1000)); @[strerror(1)] = count();')
    assert r.out == ("Invalid argument\nNo such file or directory\nUnknown error\nUnknown error\n"
                     "Interrupt\nUnknown signal 0\nReal-time signal 0\nN/A\nN/A\n"
                     "read\nexecve\npwritev2\nUnknown syscall\n\n\n@[Operation not permitted]: 1\n"), r


def test_strerror_of_a_syscall_result():
    r = run_pytrace("-e", 'tracepoint:syscalls:sys_exit_kill /pid == cpid/ { '
                    'printf("%s %s\\n", strerror(args->ret), syscall_name(args->__syscall_nr)); }',
                    "-c", py_workload("import os\ntry:\n    os.kill(999999999, 0)\nexcept OSError:\n    pass"))
    assert r.out == "No such process kill\n\n\n", r


def test_string_functions():
    r = run_begin('$s = str_concat("hello ", comm); print($s); print(str_concat("", "x")); '
                  'printf("%d %d %d %d %d\\n", strstr("hello", "ll"), strstr("hello", ""), strstr("hello", "lo!"), '
                  'strstr("aab", "ab"), strstr(comm, "ython"));'
                  'printf("%d %d %d\\n", strcap("abc"), strcap(comm), strcap(pton("::1"))); '
                  'printf("%d %d %d %d\\n", memcmp("abc", "abd", 3), memcmp("abc", "abd", 2), memcmp(258, 259, 8), '
                  'memcmp("b", "a", 1));')
    assert r.out == (f"hello {PYTHON_COMM}\nx\n2 0 -1 1 1\n4 16 16\n-1 0 -1 1\n\n\n"), r


def test_pton_and_predicates():
    r = run_begin('printf("%s %s\\n", ntop(2, pton("127.0.0.1")), ntop(10, pton("fe80::1"))); '
                  '$p = curtask; printf("%d %d %d %d %d %d %d %d\\n", is_str("a"), is_str(1), is_integer(pid), '
                  'is_unsigned_integer(pid), is_unsigned_integer(-1), is_ptr($p), is_array(pton("1.2.3.4")), '
                  'is_literal("x")); printf("%d %d %d %d\\n", is_err(-4095), is_err(-4096), is_err(0), is_err(-1));')
    assert r.out == "127.0.0.1 fe80::1\n1 0 1 1 0 1 1 1\n1 0 0 1\n\n\n", r


def test_find():
    r = run_begin('@m[1] = (5, "five"); let $v; if (find(@m, 1, $v)) { print($v); } '
                  'if (!find(@m, 2, $v)) { printf("no 2, still %d\\n", $v.0); } '
                  '@n[3, "x"] = 7; let $w; if (find(@n, (3, "x"), $w)) { print($w); } clear(@m); clear(@n);')
    assert r.out == "(5, five)\nno 2, still 5\n7\n\n\n", r


def test_default_str_length_and_kfuncs():
    r = run_begin('printf("%d %d %d\\n", default_str_length, kfunc_exist("bpf_task_from_pid"), '
                  'kfunc_exist("no_such_kfunc"));')
    assert r.out == "1024 1 0\n\n\n", r


def test_user_pointer_marker():
    r = run_pytrace("-e", 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { '
                    'printf("%s\\n", str(uptr(args->filename))); }',
                    "-c", py_workload("open('/etc/hostname').close()"))
    assert r.rc == 0, r
    assert "/etc/hostname\n" in r.out, r


def test_signal_thread_kills_the_child():
    r = run_pytrace("--unsafe", "-e", 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { '
                    'signal_thread("SIGKILL"); }',
                    "-c", py_workload("import os, time\nos.getppid()\ntime.sleep(5)\nprint('survived')"))
    assert "survived" not in r.out, r


LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


@pytest.mark.skipif(not os.path.exists(LIBC), reason="needs glibc at " + LIBC)
def test_usermode_in_a_uprobe():
    r = run_pytrace("-e", f'uprobe:{LIBC}:getppid /pid == cpid/ {{ printf("%d %s\\n", usermode(), probetype()); }}',
                    "-c", py_workload("import os\nos.getppid()"))
    assert r.out == "1 uprobe\n\n\n", r
