"""The builtins of lang/builtins_process.py and lang/builtins_strings.py:
spellings (`pid()`, `__builtin_comm`, bare `ppid`), types, compile-time values
and diagnostics. Pure: compiled for the fixture kernel."""

import socket

import pytest

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from pytrace.lang.visitor import flatten, walk


def typed(program: str, **options) -> ast.Program:
    ctx = analyse(Source("stdin", program), fixture_options(**options))
    assert ctx.program is not None
    return ctx.program


def values(program: str, **options) -> list:
    """The right-hand side of each `$x = ...` of the program, flattened, with its type."""
    return [(flatten(n.value), str(n.value.type)) for n in walk(typed(program, **options))
            if isinstance(n, ast.Assign)]


def calls(program: str, **options) -> list[ast.Call]:
    return [n for n in walk(typed(program, **options)) if isinstance(n, ast.Call)]


def errors(program: str, **options) -> str:
    with pytest.raises(CompileError) as exc:
        analyse(Source("stdin", program), fixture_options(**options))
    return exc.value.diagnostics.render()


def test_builtins_called_as_functions_and_builtin_spellings():
    assert values("BEGIN { $a = pid(); $b = comm(); $c = __builtin_comm; $d = __builtin_cpu; $e = nsecs(); "
                  "$f = __builtin_probetype; }") == [
        (["Builtin", "pid"], "uint32"), (["Builtin", "comm"], "string[16]"), (["Builtin", "comm"], "string[16]"),
        (["Builtin", "cpu"], "uint64"), (["Builtin", "nsecs"], "uint64"), (["Builtin", "probetype"], "string[16]")]


def test_functions_without_arguments_are_written_bare():
    assert values("BEGIN { $a = ppid; $b = default_str_length; }") == [
        (["Call", "ppid"], "int32"), (["Call", "default_str_length"], "uint64")]


def test_task_relatives_read_task_struct_fields():
    (pcomm, ppid) = calls("BEGIN { $a = pcomm; $b = ppid(curtask); }")
    assert flatten(pcomm.expansion) == [
        "FieldAccess", ["FieldAccess", ["Builtin", "curtask"], "real_parent", True], "comm", True]
    assert pcomm.type == T.StringType(16)
    assert flatten(ppid.expansion) == [
        "FieldAccess", ["FieldAccess", ["Builtin", "curtask"], "real_parent", True], "pid", True]
    assert pcomm.expansion not in list(walk(typed("BEGIN { $a = pcomm; }")))


def test_task_relative_needs_a_task():
    assert errors("BEGIN { $a = ppid(1); }") == (
        "stdin:1:19-20: ERROR: ppid() expects a struct task_struct * argument (int64 provided)\n"
        "BEGIN { $a = ppid(1); }\n"
        "                  ~\n")


def test_pid_namespace_and_clock_words():
    assert [flatten(c) for c in calls("BEGIN { $a = pid(init) + tid(curr_ns) + nsecs(sw_tai); }")] == [
        ["Call", "pid", [["Identifier", "init"]]], ["Call", "tid", [["Identifier", "curr_ns"]]],
        ["Call", "nsecs", [["Identifier", "sw_tai"]]]]
    assert errors("BEGIN { $a = pid(host); $b = nsecs(wall); }") == (
        "stdin:1:18-22: ERROR: Invalid PID namespace mode: host (expects: curr_ns or init)\n"
        "BEGIN { $a = pid(host); $b = nsecs(wall); }\n"
        "                 ~~~~\n"
        "stdin:1:36-40: ERROR: Invalid timestamp mode: wall\n"
        "BEGIN { $a = pid(host); $b = nsecs(wall); }\n"
        "                                   ~~~~\n")


def test_comm_of_a_pid_is_refused():
    assert errors("BEGIN { $a = comm(1); }") == (
        "stdin:1:14-21: ERROR: Syntax comm(PID) is not supported in this probe type yet. Type: special\n"
        "BEGIN { $a = comm(1); }\n"
        "             ~~~~~~~\n")


def test_type_predicates_are_compile_time():
    program = ('BEGIN { $p = curtask; @a = (is_str("x"), is_str(1), is_integer(1), is_integer("x"), '
               'is_unsigned_integer(pid), is_unsigned_integer(-1), is_ptr($p), is_ptr(1), '
               'is_array(pton("1.2.3.4")), is_array("x"), is_literal(-1), is_literal(pid)); }')
    assert [c.const_value for c in calls(program) if c.name.startswith("is_")] == [
        1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]


def test_name_tables_return_strings():
    assert values("BEGIN { $a = strerror(1); $b = signal_name(2); $c = syscall_name(0); }") == [
        (["Call", "strerror", [["Integer", 1]]], "string[64]"),
        (["Call", "signal_name", [["Integer", 2]]], "string[64]"),
        (["Call", "syscall_name", [["Integer", 0]]], "string[64]")]


def test_string_functions_types():
    assert [t for _, t in values('BEGIN { $a = str_concat("ab", "cde"); $b = strstr("ab", "b"); '
                                 '$c = strcap("abc"); $d = memcmp("ab", "ac", 2); }')] == [
        "string[7]", "int64", "int64", "int32"]
    assert [c.const_value for c in calls('BEGIN { $c = strcap("abc"); $d = strcap(pton("::1")); }')
            if c.name == "strcap"] == [4, 16]


def test_memcmp_count_within_both_values():
    assert errors('BEGIN { $d = memcmp("ab", "abcdef", 4); }') == (
        "stdin:1:37-38: ERROR: memcmp() count must be between 0 and the size of both values (3)\n"
        'BEGIN { $d = memcmp("ab", "abcdef", 4); }\n'
        "                                    ~\n")


def test_pton_bytes_in_network_order():
    (v4,) = calls('BEGIN { $a = pton("127.0.0.1"); }')
    assert v4.type == T.ArrayType(T.U8, 4)
    assert v4.const_value.to_bytes(4, "little") == socket.inet_pton(socket.AF_INET, "127.0.0.1")
    (v6,) = calls('BEGIN { $a = pton("fe80::1"); }')
    assert v6.type == T.ArrayType(T.U8, 16)
    assert v6.const_value.to_bytes(16, "little") == socket.inet_pton(socket.AF_INET6, "fe80::1")
    assert errors('BEGIN { $a = pton("localhost"); $b = pton("1.2.3"); }') == (
        "stdin:1:14-31: ERROR: pton() expects an string argument of an IPv4/IPv6 address, got localhost\n"
        'BEGIN { $a = pton("localhost"); $b = pton("1.2.3"); }\n'
        "             ~~~~~~~~~~~~~~~~~\n"
        "stdin:1:38-51: ERROR: pton() expects a valid IPv4/IPv6 address, got 1.2.3\n"
        'BEGIN { $a = pton("localhost"); $b = pton("1.2.3"); }\n'
        "                                     ~~~~~~~~~~~~~\n")


def test_find_types_its_variable_from_the_map():
    program = typed('BEGIN { @m[1] = (2, "x"); let $v; if (find(@m, 1, $v)) { print($v); } }')
    (find,) = [c for c in walk(program) if isinstance(c, ast.Call) and c.name == "find"]
    assert flatten(find.key_map) == ["Map", "@m", [["Integer", 1]]]
    assert find.args[2].type == T.TupleType((T.S8, T.StringType(2)))  # a tuple's literal: its smallest int


def test_find_needs_a_keyed_map_and_a_variable():
    assert errors("BEGIN { @s = 1; @m[1] = 1; $r = find(@s, 1, $v); $q = find(@m, 1, 5); }") == (
        "stdin:1:38-40: ERROR: call to find expects a map with explicit keys (non-scalar map)\n"
        "BEGIN { @s = 1; @m[1] = 1; $r = find(@s, 1, $v); $q = find(@m, 1, 5); }\n"
        "                                     ~~\n"
        "stdin:1:67-68: ERROR: find() expects a scratch variable as the third argument\n"
        "BEGIN { @s = 1; @m[1] = 1; $r = find(@s, 1, $v); $q = find(@m, 1, 5); }\n"
        "                                                                  ~\n")


def test_kfuncs_are_looked_up_in_btf():
    # vfs_read is a function of the fixture kernel's BTF; BEGIN is no tracing program
    assert [c.const_value for c in calls('BEGIN { @a = (kfunc_exist("vfs_read"), kfunc_exist("nope"), '
                                         'kfunc_allowed("vfs_read")); }') if c.name.startswith("kfunc")] == [1, 0, 0]
    assert errors("BEGIN { @a = kfunc_exist(comm); }") == (
        "stdin:1:26-30: ERROR: kfunc_exist() accepts a string literal only\n"
        "BEGIN { @a = kfunc_exist(comm); }\n"
        "                         ~~~~\n")


def test_pointer_address_space_markers():
    assert values("BEGIN { $a = uptr(curtask); $b = kptr(uptr(curtask)); $c = kptr(5); }") == [
        (["Call", "uptr", [["Builtin", "curtask"]]], "struct task_struct *"),
        (["Call", "kptr", [["Call", "uptr", [["Builtin", "curtask"]]]]], "struct task_struct *"),
        (["Call", "kptr", [["Integer", 5]]], "int64")]
    (uptr,) = calls("BEGIN { $a = uptr(curtask); }")
    assert uptr.type.addrspace == "user"
    assert errors('BEGIN { $a = kptr("s"); }') == (
        "stdin:1:19-22: ERROR: kptr() only supports integer or pointer arguments (string provided)\n"
        'BEGIN { $a = kptr("s"); }\n'
        "                  ~~~\n")


def test_probe_restricted_functions():
    assert errors("BEGIN { override(1); $c = socket_cookie(curtask); }", unsafe=True) == (
        "stdin:1:9-20: ERROR: override() can only be used inside kprobes\n"
        "BEGIN { override(1); $c = socket_cookie(curtask); }\n"
        "        ~~~~~~~~~~~\n"
        "stdin:1:27-49: ERROR: socket_cookie() only supports 'struct sock *' as the argument "
        "('struct task_struct *' provided)\n"
        "BEGIN { override(1); $c = socket_cookie(curtask); }\n"
        "                          ~~~~~~~~~~~~~~~~~~~~~~\n")
    assert "signal_thread() is an unsafe function" in errors("BEGIN { signal_thread(9); }")


def test_name_tables_are_initialised_array_maps():
    art = generate(analyse(Source("stdin", "BEGIN { print(strerror(1)); print(strerror(2)); "
                                          "print(signal_name(9)); }"), fixture_options()))
    tables = {m.name: m for m in art.maps if m.initial}
    assert sorted(tables) == ["__signal_name", "__strerror"]  # one map per table, however often used
    errno = tables["__strerror"]
    assert (errno.map_type, errno.key_size, errno.value_size) == ("array", 4, 64)
    assert errno.initial[1] == "Operation not permitted" and errno.initial[41] == "Unknown error"
    assert errno.initial[-1] == "Unknown error" and errno.max_entries == len(errno.initial) == 135
    assert tables["__signal_name"].initial[:3] == ["Unknown signal 0", "Hangup", "Interrupt"]
    assert tables["__signal_name"].initial[-1] == "N/A"


def test_percpu_kaddr_references_the_variable_by_btf_id():
    """ld_imm64 src_reg=BPF_PSEUDO_BTF_ID imm=<index into kernel_vars>, patched by the loader."""
    import struct

    art = generate(analyse(Source("stdin", 'BEGIN { @a = *percpu_kaddr("current_task", 0); '
                                          '@b = *percpu_kaddr("some_u32"); @c = *percpu_kaddr("current_task"); }'),
                           fixture_options()))
    assert art.kernel_vars == ["current_task", "some_u32"]
    (prog,) = art.programs
    refs = [imm for i in range(0, len(prog.insns), 8)
            for code, regs, _off, imm in [struct.unpack_from("<BBhi", prog.insns, i)]
            if code == 0x18 and regs >> 4 == 3]
    assert sorted(refs) == [0, 0, 1]
    assert errors('BEGIN { @a = percpu_kaddr("no_such_var"); }') == (
        'stdin:1:14-41: ERROR: Could not resolve variable "no_such_var" from BTF\n'
        'BEGIN { @a = percpu_kaddr("no_such_var"); }\n'
        "             ~~~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_strftime_refuses_the_monotonic_clock():
    assert errors('BEGIN { printf("%s", strftime("%H", nsecs(monotonic))); }') == (
        "stdin:1:22-54: ERROR: strftime() can not take a monotonic timestamp\n"
        'BEGIN { printf("%s", strftime("%H", nsecs(monotonic))); }\n'
        "                     ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_sizeof_of_builtin_spellings():
    sizes = [n.value for n in walk(typed("BEGIN { @a = (sizeof(__builtin_comm), sizeof(pcomm), sizeof(ppid)); }"))
             if isinstance(n, ast.Sizeof)]
    assert sizes == [16, 16, 4]


def _helpers_called(art) -> set[int]:
    import struct

    return {imm for prog in art.programs for i in range(0, len(prog.insns), 8)
            for code, regs, _off, imm in [struct.unpack_from("<BBhi", prog.insns, i)]
            if code == 0x85 and regs >> 4 == 0}


@pytest.mark.parametrize("program, helper", [
    ("kprobe:vfs_read { override(0); }", 58),  # bpf_override_return
    ("fentry:vfs_open { @p[path(args.path)] = count(); }", 147),  # bpf_d_path
    ("BEGIN { signal_thread(9); }", 117),  # bpf_send_signal_thread
    ("BEGIN { @t = nsecs(tai); }", 208),  # bpf_ktime_get_tai_ns
    ("BEGIN { @t = nsecs; }", 125),  # bpf_ktime_get_boot_ns
    ("BEGIN { @t = nsecs(monotonic); }", 5),  # bpf_ktime_get_ns
    ('BEGIN { @a = *percpu_kaddr("some_u32", 1); }', 153),  # bpf_per_cpu_ptr
])
def test_kernel_only_builtins_call_their_helper(program, helper):
    """What the VM tier (fentry, kprobe) runs; here: the helper is in the program."""
    art = generate(analyse(Source("stdin", program), fixture_options(unsafe=True)))
    assert helper in _helpers_called(art)
