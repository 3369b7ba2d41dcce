"""End-to-end: kernel structs from BTF, casts, script structs, bitfields,
arrays, enums, sizeof/offsetof, tuples, bools and integer widths, run in
this kernel with known workloads and exact expected output."""


import pytest

from conftest import py_workload, run_pytrace
from pytrace.lang.btf import BTF

pytestmark = pytest.mark.kernel

KILL_PARENT = py_workload("import os\nos.kill(os.getppid(), 0)")


def _offset(struct: str, *path: str) -> int:
    btf = BTF.kernel()
    tid, total = btf.find(struct, "struct"), 0
    for name in path:
        member, bits = btf.find_member(tid, name)
        total += bits // 8
        tid = member.type_id
    return total


def test_curtask_fields_pointer_chains_and_casts():
    prog = ("tracepoint:syscalls:sys_enter_kill /pid == cpid/ {"
            " print((curtask->real_parent->tgid == args->pid, curtask->pid == tid, curtask->tgid == pid));"
            " print((((struct task_struct *)curtask)->comm == comm, curtask->comm[0] == comm[0]));"
            " $addr = (uint64)curtask; print(((struct task_struct *)$addr)->pid == tid);"
            " $p = curtask->parent; print($p->pid == args->pid);"
            " print((curtask->mm->mm_users.counter > 0, curtask->in_execve, curtask.pid == tid));"
            " print(curtask->se.load); }")
    r = run_pytrace("-e", prog, "-c", KILL_PARENT)
    assert r.rc == 0, r
    assert r.out == ("(true, true, true)\n"
                     "(true, true)\n"
                     "true\n"
                     "true\n"
                     "(true, 0, true)\n"
                     "{ .weight = 1048576, .inv_weight = 4194304 }\n"
                     "\n\n"), r
    assert r.err == "Attached 1 probe\n", r


HDR = """struct hdr {
    unsigned int lo:4, mid:8, hi:20;
    int neg:5;
    short s;
    char name[6];
    int arr[2];
};
"""
WRITE_HDR = py_workload(
    "import os, struct\n"
    "word = 5 | 0xAB << 4 | 0x12345 << 12\n"
    "data = struct.pack('<IBBh6s2xii', word, 0b11101, 0, -2, b'hello', 7, -8)\n"
    "fd = os.open('/dev/null', os.O_WRONLY)\n"
    "os.write(fd, data)")


def test_script_struct_bitfields_arrays_through_user_pointer():
    prog = HDR + ("tracepoint:syscalls:sys_enter_write /pid == cpid/ {"
                  " $h = (struct hdr *)args->buf;"
                  ' printf("%d %d %d %d %d %s %d %d\\n", $h->lo, $h->mid, $h->hi, $h->neg, $h->s, $h->name,'
                  " $h->arr[0], $h->arr[1]);"
                  " print(*$h); print((sizeof(struct hdr), offsetof(struct hdr, arr), sizeof($h->name))); }")
    r = run_pytrace("-e", prog, "-c", WRITE_HDR)
    assert r.rc == 0, r
    assert r.out == ("5 171 74565 29 -2 hello 7 -8\n"  # bitfields are read unsigned, as bpftrace does
                     "{ .lo = 5, .mid = 171, .hi = 74565, .neg = 29, .s = -2, .name = hello, .arr = [7,-8] }\n"
                     "(24, 16, 7)\n"
                     "\n\n"), r


def test_sizeof_offsetof_and_enums_from_btf():
    btf = BTF.kernel()
    prog = ("enum color { RED, GREEN = 5, BLUE };\n"
            "BEGIN { print((sizeof(struct task_struct), offsetof(struct task_struct, se.load),"
            " offsetof(struct task_struct, pid), sizeof(curtask->comm), sizeof(uint32), sizeof(pid_t)));"
            " print((TASK_COMM_LEN, BPF_MAP_TYPE_HASH, RED, GREEN, BLUE)); exit(); }")
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    size = btf.size_of(btf.find("task_struct", "struct"))
    assert r.out == (f"({size}, {_offset('task_struct', 'se', 'load')}, {_offset('task_struct', 'pid')}, 16, 4, 4)\n"
                     "(TASK_COMM_LEN, BPF_MAP_TYPE_HASH, RED, GREEN, BLUE)\n\n\n"), r


def test_tuples_print_keys_and_values():
    prog = ('BEGIN { $t = (1, "b"); print($t); print($t.1); @[$t] = $t.0; @v = (pid == pid, "x", -5);'
            ' @k[(int8)-1, "z"] = (true, (uint16)7); exit(); }')
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == ("(1, b)\nb\n\n\n"
                     "@[1, b]: 1\n"
                     "@k[-1, z]: (true, 7)\n"
                     "@v: (true, x, -5)\n"), r


def test_integer_widths_casts_and_bools():
    prog = ("BEGIN { print(((uint8)257, (int8)255, (uint16)-1, (int32)4294967295, (uint64)1 - (uint64)2,"
            " (uint32)5 + (uint8)3, (int16)-2 * 3));"
            " print((true, !false, (bool)5, (bool)0, true && false, (uint8)200 > (int8)-1)); exit(); }")
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == "(1, -1, 65535, -1, -1, 8, -6)\n(true, true, true, false, false, true)\n\n\n", r


def test_define_constants_and_header_macros():
    prog = ("#include <linux/socket.h>\n#define FOO 0x10\n#define BAR (-3)\n"
            "BEGIN { print((FOO, BAR, AF_INET, AF_INET6)); exit(); }")
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == "(16, -3, 2, 10)\n\n\n", r


def test_pointers_print_as_hex_and_args_as_a_record():
    from conftest import py_workload, run_pytrace

    r = run_pytrace("-e", "BEGIN { $p = (int8 *)1234; @p = $p; printf(\"%p %d\\n\", $p, $p); exit(); }")
    assert r.rc == 0, r
    assert r.out == "0x4d2 1234\n\n\n@p: 0x4d2\n", r
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { print(args); @[args] = count(); }",
                    "-c", py_workload("import os\nos.getppid(); os.getppid()"))
    assert r.rc == 0, r
    assert r.out == ("{ .__syscall_nr = 110 }\n{ .__syscall_nr = 110 }\n\n\n"
                     "@[{ .__syscall_nr = 110 }]: 2\n"), r


def test_narrow_integers_cast_to_pointers_zero_extend():
    # As bpftrace's inttoptr: a literal has the smallest type holding it.
    prog = "BEGIN { $x = (int32)-2; print(((uint8 *)-1, (uint64 *)-1, (int8 *)1000, (uint8 *)$x)); exit(); }"
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == "(0xff, 0xff, 0x3e8, 0xfffffffe)\n\n\n", r


def test_address_of_a_variable():
    from conftest import run_pytrace

    prog = ("struct bits { unsigned long long a:1; unsigned long long b:1; unsigned long long c:2; } "
            "BEGIN { $v = (uint64)0x1e; $b = *(struct bits *)(&$v); printf(\"%d %d %d\\n\", $b.a, $b.b, $b.c); exit(); }")
    r = run_pytrace("-e", prog)
    assert r.rc == 0, r
    assert r.out == "0 1 3\n\n\n", r


@pytest.mark.kernel
def test_strings_bigger_than_the_stack_in_keys_tuples_and_for_loops():
    # 5555 bytes of max_strlen 9999: copies go through the scratch map in entries of at most 32 KiB.
    s = "".join("abcdefghij"[(i * 7 + i // 10) % 10] for i in range(5555))
    r = run_pytrace("-e", "BEGIN { @m[str($1)] = str($1); for ($kv : @m) { print($kv); } "
                    "print((1, (2, str($1)))); exit(); }", s, env={"BPFTRACE_MAX_STRLEN": "9999"})
    assert r.rc == 0, r
    assert r.out == f"({s}, {s})\n(1, (2, {s}))\n\n\n@m[{s}]: {s}\n", r
