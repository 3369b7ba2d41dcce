"""End-to-end: checks, messages and settings (lang/builtins_checks.py,
lang/builtins_memory.py, program options, #include constants), exact output."""

import os
import sys
import time

import pytest

from conftest import py_workload, run_begin, run_pytrace

pytestmark = pytest.mark.kernel


def test_errorf_and_warnf_print_at_the_call_on_stderr():
    r = run_pytrace("-e", 'BEGIN { errorf("Something bad with args: %d, %s", 10, "arg2"); '
                          '$x = 0x12345678abcdef; warnf("%hhx %hx %x %jx", $x, $x, $x, $x); exit(); }')
    assert r.rc == 0, r
    assert r.out == "\n\n"
    assert r.err == ("Attached 1 probe\n"
                     "stdin:1:9-62: ERROR: Something bad with args: 10, arg2\n"
                     "stdin:1:87-127: WARNING: ef cdef 78abcdef 12345678abcdef\n"), r


def test_errorf_in_a_macro_shows_the_expansion():
    program = 'macro bad() { errorf("Something bad"); } BEGIN { bad(); exit(); }'
    r = run_pytrace("-e", program)
    assert r.err == ("Attached 1 probe\n"
                     "stdin:1:15-38: ERROR: Something bad\n"
                     "stdin:1:50-55: ERROR: expanded from\n"
                     f"{program}\n"
                     "                                                 ~~~~~\n"), r


def test_no_warnings_silences_warnf_not_errorf():
    r = run_pytrace("--no-warnings", "-e", 'BEGIN { warnf("no warn"); errorf("err"); exit(); }')
    assert r.err == "Attached 1 probe\nstdin:1:27-40: ERROR: err\n", r


def test_messages_in_json():
    r = run_pytrace("-f", "json", "-e", 'BEGIN { warnf("w %d", 1); exit(); }')
    assert r.out.splitlines()[1] == '{"type": "warnf", "msg": "w 1", "filename": "stdin", "line": 1, "col": 9}', r


def test_assert_fails_with_bpftraces_message_and_exit_code_1():
    r = run_pytrace("-e", 'BEGIN { assert(1 == 1, "fine"); assert(false, "My error message"); printf("never\\n"); }')
    assert r.rc == 1, r
    assert "never" not in r.out
    assert r.err.splitlines()[1:3] == ["stdlib/base.bt:6:5-37: ERROR: assert failed: My error message",
                                       "stdin:1:33-66: ERROR: expanded from"], r


def test_fail_and_static_assert_stop_compiling():
    r = run_pytrace("-e", 'BEGIN { static_assert(sizeof(uint64) == 8, "ok"); fail("no %s", "way"); }')
    assert r.rc == 1 and r.err.startswith("stdin:1:51-71: ERROR: no way\n"), r


def test_debugf_writes_to_the_trace_buffer():
    trace = "/sys/kernel/tracing/trace"
    if not os.path.exists(trace):
        pytest.skip("no tracefs")
    with open(trace, "w") as f:
        f.write("")
    marker = f"pytrace-debugf-{os.getpid()}"
    r = run_pytrace("-e", f'BEGIN {{ debugf("{marker} %s %d %x", "a", -1, 16); exit(); }}')
    assert r.rc == 0, r
    assert "WARNING: The debugf() builtin is not recommended for production use." in r.err
    for _ in range(50):
        with open(trace) as f:
            text = f.read()
        if marker in text:
            break
        time.sleep(0.1)
    assert f"bpf_trace_printk: {marker} a -1 10" in text


def test_getopt_reads_program_options_after_double_dash():
    r = run_pytrace("-e", 'BEGIN { print((getopt("aa", 20), getopt("bb", -1), getopt("cc", true), getopt("dd"), '
                          'getopt("ee", "hello"), getopt("ff", 7))); exit(); }',
                    "--", "--dd", "--aa=0xffffffffffffffff", "--bb=-10", "--cc=False")
    assert r.out == "(18446744073709551615, -10, false, true, hello, 7)\n\n\n", r


def test_getopt_with_positional_parameters():
    r = run_pytrace("-e", 'BEGIN { print(($1, getopt("aa", 10), $2, getopt("cc", "hello"), getopt("dd"))); exit(); }',
                    "pos1", "--", "--aa=20", "--cc=bye", "pos2", "--dd")
    assert r.out == "(pos1, 20, pos2, bye, true)\n\n\n", r


def test_unexpected_program_options():
    r = run_pytrace("-e", 'BEGIN { print(getopt("aa", 10)); exit(); }', "--", "--bb")
    assert (r.rc, r.out) == (1, ""), r
    assert r.err == ("ERROR: unexpected program command line options: --bb\n"
                     "HINT: expected program options: --aa\n"), r


def test_config_reads_the_settings_in_effect():
    r = run_pytrace("-e", 'config = { max_strlen = 40 } BEGIN { printf("%d %s %d %d\\n", config().max_strlen, '
                          'config.stack_mode, __builtin_config.cpp_demangle, config().max_map_keys); exit(); }')
    assert r.out == "40 bpftrace 1 4096\n\n\n", r


def test_constants_of_included_system_headers():
    if not os.path.exists("/usr/include/linux/errno.h"):
        pytest.skip("linux-libc-dev is not installed")
    program = ("#include <linux/errno.h>\n#include <linux/icmp.h>\n#include <sys/socket.h>\n#include <dirent.h>\n"
               'BEGIN { printf("%d %d %d %d %d\\n", EPERM, EINPROGRESS, ICMP_ECHO, AF_INET, DT_REG); exit(); }')
    r = run_pytrace("-e", program)
    assert r.out == "1 115 8 2 8\n\n\n", r


def test_container_of_finds_the_task_again():
    r = run_begin("$t = curtask; $l = (struct list_head *)((uint64)$t + offsetof(struct task_struct, tasks)); "
                  '$p = container_of($l, typeof(*curtask), tasks); printf("%d %d\\n", $p == $t, $p->pid == pid);')
    assert r.out == "1 1\n\n\n", r


def test_write_user_loads_with_unsafe():
    r = run_pytrace("--unsafe", "-e", 'tracepoint:syscalls:sys_enter_openat /pid == 0xffffffff/ '
                                      '{ $ok = write_user(args.filename, "x", 1); } BEGIN { exit(); }')
    if r.rc != 0 and "verifier rejected" in r.err:
        pytest.skip("this kernel refuses bpf_probe_write_user (lockdown)")
    assert r.rc == 0 and r.err == "Attached 1 probe\n", r


def test_cpid_without_a_child_warns_at_run_time():
    r = run_begin("print(cpid); print(has_cpid);")
    assert r.out == "0\nfalse\n\n\n", r
    assert r.err.splitlines()[1:3] == ["stdlib/base.bt:208:5-51: WARNING: No child command (`-c`); cpid is zero",
                                       "stdin:1:15-19: WARNING: expanded from"], r


def test_skboutput_writes_the_packets_ip_bytes_to_a_pcap(tmp_path):
    """Loopback: net_dev_queue's skb starts with the 14-byte Ethernet header."""
    import struct

    pcap = tmp_path / "out.pcap"
    sender = ("import socket, time; time.sleep(0.3); "
              "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'pytrace-pcap', ('127.0.0.1', 9))")
    r = run_pytrace("-e", f'tracepoint:net:net_dev_queue {{ $r = skboutput("{pcap}", args.skbaddr, args.len, 14); '
                          'printf("ret: %d\\n", $r); exit(); }', "-c", py_workload(sender))
    assert r.out.startswith("ret: 0\n"), r
    data = pcap.read_bytes()
    assert struct.unpack("<IHHiIII", data[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    caplen, length = struct.unpack("<II", data[32:40])
    packet = data[40:40 + caplen]
    assert caplen == length == 20 + 8 + len(b"pytrace-pcap")
    assert packet[0] == 0x45 and packet[9] == 17 and packet.endswith(b"pytrace-pcap")  # IPv4, UDP


def test_skboutput_beyond_the_packet_is_efault(tmp_path):
    pcap = tmp_path / "none.pcap"
    sender = ("import socket, time; time.sleep(0.3); "
              "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))")
    r = run_pytrace("-e", f'tracepoint:net:net_dev_queue {{ $r = skboutput("{pcap}", args.skbaddr, 100000, 0); '
                          'printf("ret: %d\\n", $r); exit(); }', "-c", py_workload(sender))
    assert r.out.startswith("ret: -14\n"), r
    assert pcap.stat().st_size == 24  # the file header only
