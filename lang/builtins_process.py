"""Builtins about the current process, the clock and the probe itself:
`pid(init)`, `nsecs(boot)`, `ppid`, `pcomm`, `usermode`, `probetype`,
`signal_thread()`, `override()`, `kptr()`, `percpu_kaddr()`, `path()`...

Each entry is registered into the tables of lang/builtins.py; its lowering
is the function of the same name in codegen/calls_process.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.builtins import ALIASES, BuiltinVar, Function, _signal, _string_literal, register

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker

# The namespaces pid()/tid() can see a process id in.
PID_NAMESPACES = ("curr_ns", "init")
# The clocks of nsecs(mode): bpf_ktime_get_{,boot_,tai_}ns; sw_tai is boot time
# plus the TAI - boot offset measured in user space when the program is loaded.
CLOCKS = ("monotonic", "boot", "tai", "sw_tai")
# The probe types whose context holds the interrupted registers, where
# `usermode` reads the cs register (bpftrace's AttachPoint::check_available).
USERMODE_PROBES = {"kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "profile", "interval",
                   "software", "hardware", "watchpoint"}
# `probetype` of a provider, where bpftrace names it differently.
PROBE_TYPE_NAMES = {"BEGIN": "special", "END": "special"}
# task_struct fields behind ppid, leader_tid, pcomm, leader_comm: (link, field).
TASK_FIELDS = {
    "ppid": ("real_parent", "pid"),
    "leader_tid": ("group_leader", "pid"),
    "pcomm": ("real_parent", "comm"),
    "leader_comm": ("group_leader", "comm"),
}


def probe_type_name(provider_name: str) -> str:
    return PROBE_TYPE_NAMES.get(provider_name, provider_name)


def _mode_word(call: ast.Call, tc: "TypeChecker", words: tuple[str, ...], error: str) -> None:
    """The bare-word argument of pid(init), nsecs(boot)..."""
    arg = call.args[0]
    if not isinstance(arg, ast.Identifier) or arg.name not in words:
        shown = arg.name if isinstance(arg, ast.Identifier) else T.describe(tc.expr(arg))
        tc.error(error.format(shown), arg)


def _pid_ns(call: ast.Call, tc: "TypeChecker") -> T.Type:
    _mode_word(call, tc, PID_NAMESPACES,
               f"Invalid PID namespace mode: {{}} (expects: {' or '.join(PID_NAMESPACES)})")
    return T.U32


def _nsecs(call: ast.Call, tc: "TypeChecker") -> T.Type:
    _mode_word(call, tc, CLOCKS, "Invalid timestamp mode: {}")
    return T.U64


def _comm_of_pid(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """comm(pid) needs the bpf_task_from_pid kfunc, which pytrace cannot call."""
    tc.expect_int("comm", call.args[0])
    kind = probe_type_name(tc.unit.provider.name) if tc.unit is not None else "none"
    tc.error(f"Syntax comm(PID) is not supported in this probe type yet. Type: {kind}", call)
    return T.StringType(64)


def _task_field(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """ppid/pcomm/leader_tid/leader_comm([task]): `task->link->field`, task defaulting to curtask."""
    link, member = TASK_FIELDS[call.name]
    task = call.args[0] if call.args else ast.Builtin("curtask", span=call.span)
    t = tc.expr(task)
    if not isinstance(t, T.PointerType) or not isinstance(t.pointee, T.RecordType):
        tc.error(f"{call.name}() expects a struct task_struct * argument ({T.describe(t)} provided)", task)
        return T.U32
    call.expansion = ast.FieldAccess(ast.FieldAccess(task, link, True, span=call.span), member, True,
                                     span=call.span)
    return tc.expr(call.expansion)


def _int_or_pointer(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """kptr(p)/uptr(p): the same value, read as kernel/user memory."""
    t = tc.expr(call.args[0])
    if not isinstance(t, (T.IntType, T.PointerType)):
        tc.error(f"{call.name}() only supports integer or pointer arguments ({T.describe(t)} provided)",
                 call.args[0])
        return T.U64
    if isinstance(t, T.PointerType):
        return T.PointerType(t.pointee, "kernel" if call.name == "kptr" else "user")
    return t


def _override(call: ast.Call, tc: "TypeChecker") -> T.Type:
    if tc.unit is not None and tc.unit.provider.name != "kprobe":
        tc.error("override() can only be used inside kprobes", call)
    t = tc.expr(call.args[0])
    if not isinstance(t, (T.IntType, T.BoolType)):
        tc.error(f"override() only supports int arguments ({T.describe(t)} provided)", call.args[0])
    return T.VOID


def _percpu_kaddr(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """The address of a per-CPU kernel variable (found in BTF) on one CPU, the current one by default."""
    name = _string_literal(call, tc)
    if name is not None:
        btf = tc.ctx.kernel.btf()
        if btf is None or btf.find(name, "var") is None:
            tc.error(f'Could not resolve variable "{name}" from BTF', call)
    if len(call.args) == 2:
        tc.expect_int("percpu_kaddr", call.args[1])
    return T.PointerType(T.U64, "kernel")


def _socket_cookie(call: ast.Call, tc: "TypeChecker") -> T.Type:
    t = tc.expr(call.args[0])
    pointee = t.pointee if isinstance(t, T.PointerType) else None
    if not isinstance(pointee, T.RecordType):
        tc.error(f"socket_cookie() only supports 'struct sock *' as the argument ({T.describe(t)} provided)",
                 call)
    elif pointee.record_name != "struct sock":
        tc.error(f"socket_cookie() only supports 'struct sock *' as the argument ('{t.name}' provided)", call)
    return T.U64


def _path(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """path(struct path *[, size]): bpf_d_path, for the functions the kernel allows (fentry)."""
    t = tc.expr(call.args[0])
    if not isinstance(t, (T.PointerType, T.RecordType)):
        tc.error(f"path() only supports pointer or C type argument ({T.describe(t)} provided)", call.args[0])
    size = tc.max_strlen
    if len(call.args) == 2:
        n = tc.expect_const("path", call.args[1], "the size")
        if n is not None:
            size = max(1, n)
    return T.StringType(size)


def _kfunc_exist(call: ast.Call, tc: "TypeChecker") -> T.Type:
    name = _string_literal(call, tc, "accepts a string literal only")  # bpftrace's words
    btf = tc.ctx.kernel.btf()
    call.const_value = int(name is not None and btf is not None and btf.find(name, "func") is not None)
    return T.BOOL


def _kfunc_allowed(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """Whether a kfunc can be called from this probe: it exists, and the probe
    is a BPF tracing program (fentry/fexit), the type kfuncs are registered for."""
    _kfunc_exist(call, tc)
    tracing = tc.unit is not None and tc.unit.provider.prog_type == "tracing"
    call.const_value = int(bool(call.const_value) and tracing)
    return T.BOOL


def _default_str_length(call: ast.Call, tc: "TypeChecker") -> T.Type:
    call.const_value = tc.max_strlen
    return T.U64


def _f(name, lo, hi, check, doc, sig, **kw) -> Function:
    return Function(name, lo, hi, check, doc, sig, **kw)


register(
    BuiltinVar("usermode", T.U8, "1 if the probe interrupted user mode, else 0 (x86_64; BEGIN/END: 1)"),
    BuiltinVar("probetype", T.StringType(16), 'the type of the probe ("kprobe", "tracepoint"...; BEGIN/END: '
               '"special")'),
    BuiltinVar("has_cpid", T.BOOL, "whether a child command was started with -c (cpid is set)"),
    _f("pid", 1, 1, _pid_ns, "process id as seen from pytrace's PID namespace or the initial one",
       "pid([curr_ns|init])", keeps_identifiers=True),
    _f("tid", 1, 1, _pid_ns, "thread id as seen from pytrace's PID namespace or the initial one",
       "tid([curr_ns|init])", keeps_identifiers=True),
    _f("nsecs", 1, 1, _nsecs, "nanoseconds of a clock: monotonic, boot (plain nsecs), tai or sw_tai",
       "nsecs([monotonic|boot|tai|sw_tai])", keeps_identifiers=True),
    _f("comm", 1, 1, _comm_of_pid, "name of the process with a pid (not supported: needs a kfunc)",
       "comm([pid])"),
    _f("ppid", 0, 1, _task_field, "pid of the parent (task->real_parent->pid)", "ppid([task])", bare=True),
    _f("leader_tid", 0, 1, _task_field, "thread id of the thread group leader (task->group_leader->pid)",
       "leader_tid([task])", bare=True),
    _f("pcomm", 0, 1, _task_field, "name of the parent (task->real_parent->comm)", "pcomm([task])", bare=True),
    _f("leader_comm", 0, 1, _task_field, "name of the thread group leader (task->group_leader->comm)",
       "leader_comm([task])", bare=True),
    _f("signal_thread", 1, 1, _signal, "send a signal to the current thread", "signal_thread(sig)", unsafe=True),
    _f("override", 1, 1, _override, "make the probed kernel function return rc without running (kprobe)",
       "override(rc)", unsafe=True),
    _f("kptr", 1, 1, _int_or_pointer, "the pointer, read as kernel memory", "kptr(ptr)"),
    _f("uptr", 1, 1, _int_or_pointer, "the pointer, read as user memory", "uptr(ptr)"),
    _f("percpu_kaddr", 1, 2, _percpu_kaddr, "address of a per-CPU kernel variable on a CPU (default: this one)",
       'percpu_kaddr("name"[, cpu])'),
    _f("socket_cookie", 1, 1, _socket_cookie, "the cookie of a socket (bpf_get_socket_cookie)",
       "socket_cookie(sk)", btf_pointer_arg=True),
    _f("path", 1, 2, _path, "the full path of a struct path (bpf_d_path; fentry on allowed functions)",
       "path(p[, size])"),
    _f("kfunc_exist", 1, 1, _kfunc_exist, "whether the kernel's BTF has the kfunc (at compile time)",
       'kfunc_exist("name")'),
    _f("kfunc_allowed", 1, 1, _kfunc_allowed, "whether this probe may call the kfunc (at compile time)",
       'kfunc_allowed("name")'),
    _f("default_str_length", 0, 0, _default_str_length, "the default string length (max_strlen)",
       "default_str_length()", bare=True),
)

# The `__builtin_X` spellings bpftrace's parser accepts for a builtin X.
ALIASES.update({f"__builtin_{name}": name for name in (
    "comm", "cpid", "cpu", "elapsed", "func", "ncpus", "probe", "retval", "usermode", "probetype")})
