"""Odds and ends of bpftrace conformance: listing kernel types, line-buffered output,
the version line, ..."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_pytrace

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.mark.kernel  # this machine's BTF
def test_list_struct_definitions_of_several_types():
    r = run_pytrace("-lv", "struct task_struct, struct  fd")
    assert r.rc == 0, r
    blocks = r.out.split("\n\n")
    assert blocks[0].startswith("vmlinux: struct task_struct {\n\tstruct thread_info thread_info;\n")
    assert blocks[0].endswith("\n};")
    assert blocks[1] == "vmlinux: struct fd {\n\tlong unsigned int word;\n};"
    r = run_pytrace("-l", "struct task_struct")
    assert r.out == "struct task_struct\n"


@pytest.mark.kernel
def test_version_is_named_as_invoked(tmp_path):
    link = tmp_path / "bpftrace"
    link.symlink_to(os.path.join(os.path.dirname(sys.executable), "pytrace"))
    out = subprocess.run([str(link), "--version"], capture_output=True, text=True).stdout
    assert out.startswith("bpftrace v")


@pytest.mark.kernel
def test_partial_line_is_written_at_the_exit():
    r = run_pytrace("-e", 'BEGIN { printf("%x", 0x3412); }')
    assert r.rc == 0 and r.out == "3412\n\n", r


@pytest.mark.kernel
@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_len_of_a_user_stack(tmp_path):
    binary = str(tmp_path / "probes_target")
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", binary,
                    os.path.join(FIXTURES, "probes_target.c")], check=True)
    r = run_pytrace("-e", f"uprobe:{binary}:pyt_add {{ $s = ustack(3); @ = len($s); exit(); }}",
                    "-c", f"{binary} 1")
    assert r.rc == 0 and r.out == "\n\n@: 3\n", r


@pytest.mark.kernel
def test_str_with_a_length_counts_the_nul():
    prog = ("tracepoint:syscalls:sys_enter_execve /pid == cpid/ { $n = (uint16)5; $one = 1; "
            "print((str(args.argv[1], 5), str(args.argv[1], $n), str(args.argv[1], $one + 2), "
            "str(args.argv[1], 100), str(args.argv[1], 0))); exit(); }")
    r = run_pytrace("-e", prog, "-c", "/bin/true zztest")
    assert r.rc == 0 and r.out == '(zzte, zzte, zz, zztest, )\n\n\n', r


@pytest.mark.kernel
def test_cat_limits_and_missing_file(tmp_path):
    path = tmp_path / "text"
    path.write_text("12345")
    r = run_pytrace("-e", f'BEGIN {{ cat("{path}"); exit(); }}', env={"BPFTRACE_MAX_CAT_BYTES": "3"})
    assert r.rc == 0 and r.out == "123\n\n", r
    r = run_pytrace("-e", f'config = {{ max_cat_bytes = 2 }} BEGIN {{ cat("{path}"); exit(); }}')
    assert r.rc == 0 and r.out == "12\n\n", r
    r = run_pytrace("-e", 'BEGIN { cat("/does/not/exist"); exit(); }')
    assert r.err.endswith("ERROR: failed to open file '/does/not/exist' (No such file or directory)\n"), r


@pytest.mark.kernel
def test_events_after_exit_are_dropped_until_end():
    r = run_pytrace("-e", 'interval:us:100 { printf("tick\\n"); exit(); } END { printf("end\\n"); }')
    assert r.rc == 0 and r.out == "tick\nend\n\n\n", r


@pytest.mark.kernel
def test_ternary_of_buffers_of_different_lengths():
    r = run_pytrace("-e", 'BEGIN { $a = nsecs ? buf("hi", 2) : buf("bye", 3); $b = nsecs == 0 ? buf("hi", 2) : '
                    'buf("bye", 3); print(($a, $b)); exit(); }')
    assert r.rc == 0 and r.out == "(hi, bye)\n\n\n", r


@pytest.mark.kernel
def test_macros_of_system_headers():
    r = run_pytrace("--include", "errno.h", "-e", "BEGIN { print(strerror(EPERM)); exit(); }")
    assert r.rc == 0 and r.out == "Operation not permitted\n\n\n", r
    r = run_pytrace("-e", "#include <syscall.h>\nBEGIN { print(__NR_nanosleep); exit(); }")
    assert r.rc == 0 and r.out == "35\n\n\n", r


@pytest.mark.kernel
def test_raw_tracepoint_wildcard_matches_raw_tracepoints_only():
    r = run_pytrace("-l", "rawtracepoint:sys_*")
    assert r.out == "rawtracepoint:vmlinux:sys_enter\nrawtracepoint:vmlinux:sys_exit\n", r


@pytest.mark.kernel
def test_k_warns_on_a_map_read_of_a_missing_key():
    prog = 'BEGIN { @[1] = 1; printf("%d\\n", @[2]); exit(); }'
    r = run_pytrace("-k", "-e", prog)
    assert r.rc == 0 and r.out == "0\n\n\n@[1]: 1\n", r
    assert r.err == (
        "Attached 1 probe\n"
        "stdin:1:34-38: WARNING: Can't lookup map element because it does not exist.\n"
        "Additional Info - helper: map_lookup_elem, retcode: 0\n"
        f"{prog}\n"
        "                                 ~~~~\n"), r
    r = run_pytrace("-e", prog)
    assert r.err == "Attached 1 probe\n", r


@pytest.mark.kernel
def test_k_warns_when_a_memory_read_fails_and_json_has_the_helper_error_record():
    # A read of address 0 fails (the code varies by kernel); the place starts at the cast,
    # inside the parentheses, as bpftrace's postfix expressions do.
    prog = "struct foo { int a; } BEGIN { $x = ((struct foo *)0)->a; exit(); }"
    r = run_pytrace("-k", "-e", prog)
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert lines[1].startswith("stdin:1:37-56: WARNING: "), r
    assert lines[2].startswith("Additional Info - helper: probe_read_kernel, retcode: -"), r
    assert lines[3:] == [prog, " " * 36 + "~" * 19], r
    r = run_pytrace("-k", "-q", "-f", "json", "-e", prog)
    record = json.loads(r.out.splitlines()[0])
    assert record["type"] == "helper_error" and record["helper"] == "probe_read_kernel", r
    assert record["retcode"] < 0 and record["msg"] == os.strerror(-record["retcode"]), r
    assert (record["filename"], record["line"], record["col"]) == ("stdin", 1, 37), r
    r = run_pytrace("-e", prog)  # without -k a failed read is silent (its value is 0)
    assert r.rc == 0 and r.err == "Attached 1 probe\n", r


@pytest.mark.kernel
def test_ctx_is_the_programs_argument():
    # A syscall tracepoint's context: the 8 bytes of common fields, then __syscall_nr.
    prog = ("tracepoint:syscalls:sys_enter_execve /pid == cpid/ { "
            "printf(\"%d %d\\n\", *((int32 *)(ctx + 8)), args.__syscall_nr); exit(); }")
    r = run_pytrace("-e", prog, "-c", "/bin/true")
    assert r.rc == 0 and r.out == "59 59\n\n\n", r
    r = run_pytrace("-e", "struct x { unsigned long x; } interval:ms:1 { @ = ((struct x *)ctx).x != 0; exit(); }")
    assert r.rc == 0 and r.out == "\n\n@: true\n", r
