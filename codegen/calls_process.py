"""Lowerings of the process, clock and probe builtins of lang/builtins_process.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from llvmlite import ir

from pytrace.codegen import memory
from pytrace.codegen.calls import NONE, current_id, function, signal_number, variable
from pytrace.codegen.irbuilder import I64
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.builtins_process import USERMODE_PROBES, probe_type_name
from pytrace.lang.probes.kprobe import PT_REGS

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

# ---------------------------------------------------------------- variables


@variable("usermode")
def _usermode(pl: "ProbeLowering", node: ast.Builtin) -> ir.Value:
    """The privilege level in the saved cs register is 3 in user mode.
    BEGIN/END run from pytrace itself: 1; probes without saved registers: 0."""
    kind = probe_type_name(pl.unit.provider.name)
    if kind not in USERMODE_PROBES:
        return I64(1 if kind == "special" else 0)
    cs = pl.bb.load(pl.ctx_ptr, 8, False, PT_REGS["cs"], name="reg_cs")
    user = pl.b.icmp_unsigned("==", pl.b.and_(cs, I64(3)), I64(3), name="is_usermode")
    return pl.bb.bool_i64(user)


@variable("probetype")
def _probetype(pl, node):
    return pl.const_string(probe_type_name(pl.unit.provider.name), node.type.size, "probetype")


@variable("has_cpid")
def _has_cpid(pl, node):
    return pl.bb.bool_i64(pl.b.icmp_unsigned("!=", pl.bb.runtime_const("cpid"), I64(0), name="has_cpid"))


# ---------------------------------------------------------------- ids and clocks

@function("pid")
def _pid(pl: "ProbeLowering", call: ast.Call) -> ir.Value:
    return current_id(pl, "pid", call.args[0].name)


@function("tid")
def _tid(pl, call):
    return current_id(pl, "tid", call.args[0].name)


CLOCKS: dict[str, Callable[["ProbeLowering"], ir.Value]] = {
    "monotonic": lambda pl: pl.bb.ktime_get_ns(),
    "boot": lambda pl: pl.bb.ktime_get_boot_ns(),
    "tai": lambda pl: pl.bb.ktime_get_tai_ns(),
    "sw_tai": lambda pl: pl.b.add(pl.bb.ktime_get_boot_ns(), pl.bb.runtime_const("tai_delta"), name="sw_tai"),
}


@function("nsecs")
def _nsecs(pl, call):
    return CLOCKS[call.args[0].name](pl)


@function("comm")
def _comm_of_pid(pl, call):
    raise AssertionError("comm(pid) is refused by the type checker")


# ---------------------------------------------------------------- the task and its relatives

def _expansion(pl: "ProbeLowering", call: ast.Call) -> ir.Value:
    return pl.expr(call.expansion)


for _name in ("ppid", "leader_tid", "pcomm", "leader_comm"):
    function(_name)(_expansion)


# ---------------------------------------------------------------- signals and error injection

@function("signal_thread")
def _signal_thread(pl, call):
    pl.bb.send_signal_thread(signal_number(pl, call))
    return NONE


@function("override")
def _override(pl, call):
    pl.bb.override_return(pl.ctx_ptr, pl.expr(call.args[0]))
    return NONE


# ---------------------------------------------------------------- kernel addresses and objects

def _same_value(pl, call):
    return pl.expr(call.args[0])


function("kptr")(_same_value)
function("uptr")(_same_value)


@function("percpu_kaddr")
def _percpu_kaddr(pl, call):
    """bpf_this_cpu_ptr / bpf_per_cpu_ptr of the variable (NULL for a CPU that does not exist)."""
    var = pl.bb.kernel_var_ref(pl.state.kernel_var(call.args[0].value), call.args[0].value)
    if len(call.args) == 1:
        return pl.bb.to_i64(pl.bb.this_cpu_ptr(var))
    cpu = pl.b.trunc(pl.expr(call.args[1]), ir.IntType(32))
    return pl.bb.to_i64(pl.bb.per_cpu_ptr(var, cpu))


@function("socket_cookie")
def _socket_cookie(pl, call):
    return pl.bb.get_socket_cookie(pl.expr(call.args[0]))


@function("path")
def _path(pl, call):
    arg = call.args[0]
    if isinstance(arg.type, T.RecordType):  # args.file->f_path: the struct's address
        where = memory.address(pl, arg)
        ptr = where[0] if where is not None else pl.expr(arg)
    else:
        ptr = pl.expr(arg)
    buf = pl.slot(call.type, "path")
    pl.bb.d_path(ptr, buf, call.type.size)
    return buf


def _compile_time(pl, call):
    return I64(call.const_value or 0)


for _name in ("kfunc_exist", "kfunc_allowed", "default_str_length"):
    function(_name)(_compile_time)
