"""End-to-end: software, hardware, interval and profile probes, and listing
the kernel's probes."""

import pytest

from conftest import py_workload, run_pytrace

pytestmark = pytest.mark.kernel


def _online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        cpus: list[int] = []
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
        return cpus


def test_interval_ticks_then_exit():
    r = run_pytrace("-e", "interval:ms:100 /@n < 5/ { @n = @n + 1; if (@n == 5) { exit(); } }")
    assert r.rc == 0, r
    assert r.err == "Attached 1 probe\n", r
    assert r.out == "\n\n@n: 5\n", r


def test_profile_fires_on_every_cpu():
    # Keep every CPU busy for the run: an idle CPU (NOHZ) may take no samples at all.
    busy = py_workload("import multiprocessing as mp, time\n"
                       "def spin():\n    end = time.time() + 0.6\n    while time.time() < end: pass\n"
                       "ps = [mp.Process(target=spin) for _ in range(mp.cpu_count())]\n"
                       "[p.start() for p in ps]; [p.join() for p in ps]")
    r = run_pytrace("-e", "profile:hz:100 { @[cpu] = 1; }", "-c", busy)
    assert r.rc == 0, r
    keys = sorted(int(line[2:].split("]")[0]) for line in r.out.splitlines() if line.startswith("@["))
    assert keys == _online_cpus(), r


def test_software_event_aliases_and_counts():
    # cpu-clock every 1ms of CPU time on every CPU: just shows the probe runs
    r = run_pytrace("-e", "s:cpu:1000000 { @ = 1; } interval:ms:300 { exit(); }")
    assert r.rc == 0, r
    assert r.out == "\n\n@: 1\n", r


def test_unknown_software_event():
    r = run_pytrace("-e", "software:nope { }")
    assert r.rc == 1, r
    assert "ERROR: Unknown software event: nope" in r.err, r


def test_hardware_without_pmu_says_so():
    import os

    if os.path.exists("/sys/bus/event_source/devices/cpu"):
        import pytest
        pytest.skip("this machine has a CPU PMU")
    r = run_pytrace("-e", "hardware:cycles { @ = count(); }")
    assert r.rc == 1, r
    assert r.err == ("stdin:1:1-16: ERROR: hardware:cycles:1000000: this machine has no hardware performance "
                     "counters (no CPU PMU is exposed)\nhardware:cycles { @ = count(); }\n~~~~~~~~~~~~~~~\n"), r


def test_list_software_and_hardware_events():
    r = run_pytrace("-l", "s:*faults")
    assert r.rc == 0, r
    assert r.out == ("software:page-faults:\nsoftware:faults:\nsoftware:minor-faults:\nsoftware:major-faults:\n"
                     "software:alignment-faults:\nsoftware:emulation-faults:\n"), r
    r = run_pytrace("-l", "hardware:cache-*")
    assert r.out == "hardware:cache-references:\nhardware:cache-misses:\n", r


def test_list_tracepoints_and_raw_tracepoints():
    r = run_pytrace("-l", "sched_switch")
    assert r.rc == 0, r
    assert r.out == "tracepoint:sched:sched_switch\nrawtracepoint:vmlinux:sched_switch\n", r
    r = run_pytrace("-lv", "t:syscalls:sys_enter_getppid")
    assert r.out == "tracepoint:syscalls:sys_enter_getppid\n    int __syscall_nr;\n", r


def test_rawtracepoint_argn_and_btf_typed_args():
    """rt: loads as a classic raw-tracepoint program; args.NAME comes from BTF."""
    prog = ("rt:sys_enter /pid == cpid && args.id == 110/ "
            "{ @[probe, args.id, arg1] = count(); @regs = args.regs != 0; }")
    r = run_pytrace("-e", prog, "-c", py_workload("import os\nfor _ in range(300): os.getppid()"))
    assert r.rc == 0, r
    assert r.out == "\n\n@[rawtracepoint:vmlinux:sys_enter, 110, 110]: 300\n@regs: true\n", r


def test_list_fentry_functions_with_btf_arguments():
    r = run_pytrace("-lv", "fentry:vfs_read")
    assert r.rc == 0, r
    assert r.out == ("fentry:vfs_read\n    struct file * file\n    char * buf\n    size_t count\n"
                     "    loff_t * pos\n    ssize_t retval\n"), r
    r = run_pytrace("-l", "f:vfs_rea*")
    assert "fentry:vfs_read\n" in r.out and "fentry:vfs_readv\n" in r.out


def test_rawtracepoint_calling_socket_cookie_loads_as_tp_btf(tmp_path):
    """socket_cookie's helper takes a BTF-typed socket: the raw tracepoint is loaded
    as tp_btf, where args.sk is one."""
    workload = tmp_path / "tcp.py"
    workload.write_text('import socket\ns = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)\n'
                        'c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n'
                        'for _ in range(20):\n    c.sendall(b"x" * 100); a.recv(100); a.sendall(b"y"); c.recv(1)\n')
    r = run_pytrace("-e", "rawtracepoint:tcp_probe /pid == cpid/ { @cookie = socket_cookie(args.sk) > 0; }",
                    "-c", f"python3 {workload}")
    assert r.rc == 0 and r.out.endswith("@cookie: true\n"), r


def test_missing_probes_config():
    ok = "tracepoint:syscalls:sys_enter_getppid { }"
    r = run_pytrace("-e", f"{ok} t:syscalls:nonsense {{ exit(); }}")
    assert r.rc == 1 and "ERROR: No matches for tracepoint syscalls:nonsense.\n" in r.err, r
    r = run_pytrace("--dry-run", "-e", f"config = {{ missing_probes = warn }} {ok} t:syscalls:nonsense {{ }}")
    assert r.rc == 0, r
    assert "WARNING: No matches for tracepoint syscalls:nonsense. Skipping.\n" in r.err, r
    assert ("WARNING: Probe has no valid attach points. It is being removed which may cause issues with "
            "program behavior.\n") in r.err, r
    r = run_pytrace("-e", "config = { missing_probes = ignore } t:syscalls:nonsense { }")
    assert (r.rc, r.out, r.err) == (1, "No probes to attach\n", ""), r
    r = run_pytrace("-e", "rawtracepoint:nonsense { }")
    assert r.rc == 1 and ("ERROR: Probe has no valid attach points. If this is expected, set the "
                          "'missing_probes' config variable to 'warn'.\n") in r.err, r


def test_list_program_lists_rates_by_unit(tmp_path):
    script = tmp_path / "rates.bt"
    script.write_text("interval:ms:100 { } profile:hz:99 { } software:faults:10 { } BEGIN { } "
                      "rt:sched_switch { } w:0x1000:8:rw { }\n")
    r = run_pytrace("-l", str(script))
    assert r.rc == 0, r
    assert r.out == "interval:ms:\nprofile:hz:\nsoftware:faults:\nrawtracepoint:vmlinux:sched_switch\n", r


def test_compile_warnings_are_shown_again_from_the_cache(tmp_path):
    """bpftrace warns on every run; a cached compile shows its warnings too."""
    prog = "config = { missing_probes = warn } tracepoint:syscalls:sys_enter_getppid,t:syscalls:nonsense { }"
    env = {"PYTRACE_NO_CACHE": "0", "XDG_CACHE_HOME": str(tmp_path)}
    for _ in range(2):
        r = run_pytrace("--dry-run", "-e", prog, env=env)
        assert r.rc == 0 and "WARNING: No matches for tracepoint syscalls:nonsense. Skipping.\n" in r.err, r
    assert len(list((tmp_path / "pytrace").glob("*.warnings"))) == 1
    r = run_pytrace("--dry-run", "--no-warnings", "-e", prog, env=env)
    assert "WARNING" not in r.err, r
