"""One lowering function per builtin variable and function, registered by
name. Adding a builtin: an entry in lang/builtins.py and a function here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from llvmlite import ir

from pytrace.codegen import seq_printf
from pytrace.codegen.irbuilder import I64, I8, PTR
from pytrace.lang import ast
from pytrace.lang import types as T

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering

VARIABLES: dict[str, Callable[["ProbeLowering", ast.Builtin], ir.Value]] = {}
FUNCTIONS: dict[str, Callable[["ProbeLowering", ast.Call], ir.Value]] = {}
AGGREGATIONS: dict[str, Callable[["ProbeLowering", ast.Map, ast.Call], None]] = {}


def variable(name: str):
    def register(fn):
        VARIABLES[name] = fn
        return fn
    return register


def function(name: str):
    def register(fn):
        FUNCTIONS[name] = fn
        return fn
    return register


def aggregation(name: str):
    def register(fn):
        AGGREGATIONS[name] = fn
        return fn
    return register


NONE = I64(0)  # the value of a call that returns nothing


# ---------------------------------------------------------------- variables

PROC_PID_INIT_INO = 0xEFFFFFFC  # the inode of the initial PID namespace


def current_id(pl: "ProbeLowering", which: str, namespace: str = "curr_ns") -> ir.Value:
    """The current process id (which="pid") or thread id ("tid"). In the
    namespace "curr_ns" (pytrace's own), when pytrace does not run in the
    initial PID namespace, bpf_get_ns_current_pid_tgid gives the ids as seen
    from it; the branch depends on load-time constants, so the verifier
    keeps only one side."""
    pid_tgid = pl.bb.get_current_pid_tgid()
    kernel = (pl.b.lshr(pid_tgid, I64(32), name="pid") if which == "pid"
              else pl.b.and_(pid_tgid, I64(0xFFFFFFFF), name="tid"))
    if namespace == "init":
        return kernel
    result = pl.slot_uninit(T.U64, f"{which}_ns")
    pl.bb.store(result, kernel)
    in_init = pl.b.icmp_unsigned("==", pl.bb.runtime_const("pidns_ino"), I64(PROC_PID_INIT_INO))
    other, done = pl.block(f"{which}_other_ns"), pl.block(f"{which}_done")
    pl.b.cbranch(in_init, done, other)
    pl.b.position_at_end(other)
    info = pl.slot(T.U64, "pidns_info")  # struct bpf_pidns_info { u32 pid; u32 tgid; }
    pl.bb.get_ns_current_pid_tgid(pl.bb.runtime_const("pidns_dev"), pl.bb.runtime_const("pidns_ino"), info)
    pl.bb.store(result, pl.bb.load(info, 4, offset=4 if which == "pid" else 0))
    pl.b.branch(done)
    pl.b.position_at_end(done)
    return pl.bb.load(result, name=which)


@variable("pid")
def _pid(pl: "ProbeLowering", node: ast.Builtin) -> ir.Value:
    return current_id(pl, "pid")


@variable("tid")
def _tid(pl, node):
    return current_id(pl, "tid")


@variable("uid")
def _uid(pl, node):
    return pl.b.and_(pl.bb.get_current_uid_gid(), I64(0xFFFFFFFF), name="uid")


@variable("gid")
def _gid(pl, node):
    return pl.b.lshr(pl.bb.get_current_uid_gid(), I64(32), name="gid")


@variable("nsecs")
def _nsecs(pl, node):
    return pl.bb.ktime_get_boot_ns()  # bpftrace's nsecs is nsecs(boot)


@variable("elapsed")
def _elapsed(pl, node):
    return pl.b.sub(pl.bb.ktime_get_boot_ns(), pl.bb.runtime_const("start_ns"), name="elapsed")


@variable("cpu")
def _cpu(pl, node):
    return pl.bb.get_smp_processor_id()


@variable("comm")
def _comm(pl, node):
    buf = pl.slot(node.type, "comm", zero=False)   # the helper writes every byte (NUL-padded)
    pl.bb.get_current_comm(buf, node.type.size)
    return buf


@variable("probe")
def _probe(pl, node):
    return pl.const_string(pl.spec.name, node.type.size, "probe")


@variable("cpid")
def _cpid(pl, node):
    from pytrace.codegen.calls_checks import warn_if_no_child

    cpid = pl.bb.runtime_const("cpid")
    warn_if_no_child(pl, node, cpid)
    return cpid


@variable("rand")
def _rand(pl, node):
    return pl.bb.get_prandom_u32()


@variable("curtask")
def _curtask(pl, node):
    return pl.bb.get_current_task()


@variable("ctx")
def _ctx(pl, node):
    return pl.b.ptrtoint(pl.ctx_ptr, I64, name="ctx")


# ---------------------------------------------------------------- output and control

@function("printf")
def _printf(pl: "ProbeLowering", call: ast.Call) -> ir.Value:
    if call.name == "printf" and pl.unit.provider.printf_to == "seq_file" and pl.callback_ctx is None:
        return seq_printf.lower_printf(pl, call)  # iter: into the iterator's output
    event = pl.state.events[call.format.id]
    args = [(pl.expr(a), a.type, t) for a, t in zip(call.args[1:], call.format.arg_types)]
    pl.emit_event(event, args)
    return NONE


@function("print")
def _print(pl, call):
    first = call.args[0]
    if isinstance(first, ast.Map) and not first.keys and first.name in pl.state.ctx.maps:
        event = pl.state.add_event("print_map", first.name, [T.S64, T.S64])
        top = pl.expr(call.args[1]) if len(call.args) > 1 else I64(0)
        div = pl.expr(call.args[2]) if len(call.args) > 2 else I64(1)
        pl.emit_event(event, [(top, T.S64, T.S64), (div, T.S64, T.S64)])
        return NONE
    t = T.storage_type(first.type)
    event = pl.state.add_event("print_value", "", [t])
    pl.emit_event(event, [(pl.expr(first), first.type, t)])
    return NONE


def _map_action(kind: str):
    def lower(pl, call):
        pl.emit_event(pl.state.add_event(kind, call.args[0].name), [])
        return NONE
    return lower


FUNCTIONS["clear"] = _map_action("clear")
FUNCTIONS["zero"] = _map_action("zero")


@function("delete")
def _delete(pl, call):
    target = call.key_map if len(call.args) == 2 else call.args[0]
    key = pl.map_key(target)
    ret = pl.bb.map_delete_elem(pl.map_ptr(target.name), key)
    return pl.bb.bool_i64(pl.b.icmp_signed("==", ret, I64(0)))


@function("__always_true")
def _always_true(pl, call):
    return I64(1)


@function("exit")
def _exit(pl, call):
    code = pl.expr(call.args[0]) if call.args else I64(0)
    event = pl.state.add_event("exit", "", [T.S64])
    pl.emit_event(event, [(code, T.S64, T.S64)])
    pl.b.ret(I64(0))
    pl.dead_end("after_exit")
    return NONE


@function("reg")
def _reg(pl, call):
    from pytrace.lang.probes.kprobe import PT_REGS

    return pl.bb.load(pl.ctx_ptr, 8, False, PT_REGS[call.args[0].value], name="reg")


@function("str")
def _str(pl, call):
    arg = call.args[0]
    value = pl.expr(arg)
    if isinstance(arg.type, T.StringType):
        return value
    t = call.type
    # Without an explicit length, read one byte more than the string holds: a
    # string filling all max_strlen bytes (no NUL) was truncated, and user space
    # prints it with bpftrace's trailer ("..").
    size = t.size + 1 if len(call.args) == 1 else t.size
    buf = pl.slot(T.StringType(size), "str")
    # A pointer's own address space, else the provider's (an integer such as arg0);
    # "any": a kernel function's argument may point to user memory (a syscall's path).
    space = arg.type.addrspace if isinstance(arg.type, T.PointerType) else pl.unit.provider.addrspace
    user = None if space == "any" else space == "user"
    pl.bb.probe_read_str(buf, size if len(call.args) == 1 else _str_length(pl, call.args[1], size), value, user)
    return buf


def _str_length(pl, length: ast.Expr, size: int) -> ir.Value:
    """str(p, n)'s n bounded to 1..size at run time (a constant n folds away)."""
    n = pl.expr(length)
    n = pl.b.select(pl.b.icmp_unsigned(">", n, I64(size)), I64(size), n, name="str_len")
    return pl.b.select(pl.b.icmp_unsigned("<", n, I64(1)), I64(1), n, name="str_len")


def string_equal(pl: "ProbeLowering", a: ir.Value, at: T.Type, b: ir.Value, bt: T.Type) -> ir.Value:
    """1 when two NUL-terminated strings are equal, else 0 (unrolled strcmp)."""
    n = min(at.size, bt.size)
    result = pl.slot_uninit(T.U64, "streq")
    pl.bb.store(result, I64(1))
    done = pl.block("streq_done")
    differ = pl.block("streq_differ")
    for i in range(n):
        ca = pl.b.load(pl.bb.gep(a, i), typ=I8, name=f"a{i}")
        cb = pl.b.load(pl.bb.gep(b, i), typ=I8, name=f"b{i}")
        same = pl.block(f"streq_same{i}")
        pl.b.cbranch(pl.b.icmp_unsigned("!=", ca, cb), differ, same)
        pl.b.position_at_end(same)
        nxt = pl.block(f"streq_next{i}")
        pl.b.cbranch(pl.b.icmp_unsigned("==", ca, I8(0)), done, nxt)
        pl.b.position_at_end(nxt)
    pl.b.branch(done)
    pl.b.position_at_end(differ)
    pl.bb.store(result, I64(0))
    pl.b.branch(done)
    pl.b.position_at_end(done)
    return pl.bb.load(result)


# ---------------------------------------------------------------- stacks and symbols

BPF_F_USER_STACK = 1 << 8
BPF_F_USER_BUILD_ID = 1 << 11


def _stack(pl: "ProbeLowering", t: T.StackType) -> ir.Value:
    """bpf_get_stack() into [u64 frames][ips] (ustack: [u32 pid][u32 0] first;
    build_id mode: a struct bpf_stack_build_id per frame).
    A failed call leaves 0 frames; the user-space decoder symbolises."""
    buf = pl.slot(t, "kstack" if t.kernel else "ustack")
    flags = 0 if t.kernel else BPF_F_USER_STACK | (BPF_F_USER_BUILD_ID if t.mode == "build_id" else 0)
    size = pl.bb.get_stack(pl.ctx_ptr, pl.bb.gep(buf, t.header), t.frame_size * t.limit, flags)
    shift = I64(t.frame_size.bit_length() - 1)
    frames = pl.b.select(pl.b.icmp_signed("<", size, I64(0)), I64(0), pl.b.lshr(size, shift), name="frames")
    pl.bb.store(buf, frames, 8, t.header - 8)
    if not t.kernel:
        pl.bb.store(buf, _pid(pl, None), 4, 0)
    return buf


def _stack_variable(pl, node):
    return _stack(pl, node.type)


def _stack_call(pl, call):
    return _stack(pl, call.type)


VARIABLES["kstack"] = VARIABLES["ustack"] = _stack_variable
FUNCTIONS["kstack"] = FUNCTIONS["ustack"] = _stack_call


def _symbol(pl, call):
    """ksym(addr) is [u64 addr]; usym(addr) is [u64 addr][u32 pid][u32 0]."""
    buf = pl.slot(call.type, call.name)
    pl.bb.store(buf, pl.expr(call.args[0]))
    if not call.type.kernel:
        pl.bb.store(buf, _pid(pl, None), 4, 8)
    return buf


FUNCTIONS["ksym"] = FUNCTIONS["usym"] = _symbol


def _address(pl, call):
    return I64((call.address or 0) & (2**64 - 1))  # resolved by the type checker


FUNCTIONS["kaddr"] = _address


@function("uaddr")
def _uaddr(pl, call):
    """A symbol of a PIE or shared library moves with its load address: add
    the bias, the probe's run-time address (bpf_get_func_ip) less its
    address in the file."""
    address = _address(pl, call)
    linked = pl.spec.target.get("pie_vaddr")
    if linked is None:
        return address
    bias = pl.b.sub(pl.bb.get_func_ip(pl.ctx_ptr), I64(linked), name="load_bias")
    return pl.b.add(address, bias, name="uaddr")


# ---------------------------------------------------------------- aggregations

def lower_aggregation(pl: "ProbeLowering", target: ast.Map, call: ast.Call) -> None:
    AGGREGATIONS[call.name](pl, target, call)


def _add_in_place(pl: "ProbeLowering", target: ast.Map, key: ir.Value, amount: ir.Value) -> None:
    def update(ptr):
        pl.bb.store(ptr, pl.b.add(pl.bb.load(ptr), amount))

    def initial(buf):
        pl.bb.store(buf, amount)

    pl.map_update_in_place(target, key, update, initial)


@aggregation("count")
def _count(pl, target, call):
    _add_in_place(pl, target, pl.map_key(target), I64(1))


@aggregation("sum")
def _sum(pl, target, call):
    value = pl.expr(call.args[0])
    _add_in_place(pl, target, pl.map_key(target), value)


def _total_and_count(pl, target, call):
    value = pl.expr(call.args[0])

    def update(ptr):
        pl.bb.store(ptr, pl.b.add(pl.bb.load(ptr), value))
        pl.bb.store(ptr, pl.b.add(pl.bb.load(ptr, offset=8), I64(1)), offset=8)

    def initial(buf):
        pl.bb.store(buf, value)
        pl.bb.store(buf, I64(1), offset=8)

    pl.map_update_in_place(target, pl.map_key(target), update, initial)


AGGREGATIONS["avg"] = _total_and_count
AGGREGATIONS["stats"] = _total_and_count


def _extreme(op: str):
    def lower(pl, target, call):
        value = pl.expr(call.args[0])
        signed = T.is_signed(call.args[0].type) or call.type.signed

        def update(ptr):
            cur = pl.bb.load(ptr)
            is_set = pl.b.icmp_unsigned("!=", pl.bb.load(ptr, offset=8), I64(0))
            cmp = (pl.b.icmp_signed if signed else pl.b.icmp_unsigned)(op, value, cur, name="better")
            take = pl.b.or_(pl.b.not_(is_set), cmp)
            pl.bb.store(ptr, pl.b.select(take, value, cur))
            pl.bb.store(ptr, I64(1), offset=8)

        def initial(buf):
            pl.bb.store(buf, value)
            pl.bb.store(buf, I64(1), offset=8)

        pl.map_update_in_place(target, pl.map_key(target), update, initial)
    return lower


AGGREGATIONS["min"] = _extreme("<")
AGGREGATIONS["max"] = _extreme(">")


def log2_bucket(pl: "ProbeLowering", n: ir.Value, k: int) -> ir.Value:
    """bpftrace's hist() bucket: 0 for n < 0, n + 1 below 2^k, else
    1 + ((position of the top bit - k + 1) << k | the k bits after it)."""
    b = pl.b
    mask = (1 << k) - 1
    x = n
    top = I64(0)
    for i in range(5, -1, -1):
        ge = pl.bb.bool_i64(b.icmp_signed(">=", x, I64(1 << (1 << i))))
        shift = b.shl(ge, I64(i))
        x = b.lshr(x, shift)
        top = b.add(top, shift)
    shifted = b.sub(top, I64(k))
    low_bits = b.and_(b.lshr(n, shifted), I64(mask))
    big = b.add(b.add(b.shl(b.add(shifted, I64(1)), I64(k)), low_bits), I64(1), name="log2_bucket")
    small = b.add(n, I64(1))
    bucket = b.select(b.icmp_unsigned("<=", n, I64(mask)), small, big)
    return b.select(b.icmp_signed("<", n, I64(0)), I64(0), bucket, name="hist_bucket")


def linear_bucket(pl: "ProbeLowering", v: ir.Value, lo: int, hi: int, step: int) -> ir.Value:
    """bpftrace's lhist() bucket: 0 below min, 1 + (max-min)/step above max."""
    b = pl.b
    inside = b.add(b.udiv(b.sub(v, I64(lo)), I64(step)), I64(1))  # v >= lo where it is used
    above = b.select(b.icmp_signed(">", v, I64(hi)), I64(1 + (hi - lo) // step), inside)
    return b.select(b.icmp_signed("<", v, I64(lo)), I64(0), above, name="lhist_bucket")


@aggregation("hist")
def _hist(pl, target, call):
    value = pl.expr(call.args[0])
    bucket = log2_bucket(pl, value, call.type.params[0])
    _add_in_place(pl, target, pl.map_key(target, bucket), I64(1))


@aggregation("lhist")
def _lhist(pl, target, call):
    value = pl.expr(call.args[0])
    bucket = linear_bucket(pl, value, *call.type.params)
    _add_in_place(pl, target, pl.map_key(target, bucket), I64(1))


from pytrace.codegen import tseries  # noqa: E402,F401  (registers the tseries aggregation)


# ---------------------------------------------------------------- more variables

@variable("ncpus")
def _ncpus(pl, node):
    return pl.bb.runtime_const("ncpus")


@variable("numaid")
def _numaid(pl, node):
    return pl.b.and_(pl.bb.get_numa_node_id(), I64(0xFFFFFFFF), name="numaid")


@variable("jiffies")
def _jiffies(pl, node):
    return pl.bb.jiffies64()


@variable("cgroup")
def _cgroup(pl, node):
    return pl.bb.get_current_cgroup_id()


@variable("username")
def _username(pl, node):
    """The uid; user space looks up its name when the value is printed."""
    buf = pl.slot(node.type, "username")
    pl.bb.store(buf, pl.b.and_(pl.bb.get_current_uid_gid(), I64(0xFFFFFFFF)))
    return buf


# ---------------------------------------------------------------- strings

def _counted_loop(pl: "ProbeLowering", n: int | ir.Value, name: str, body) -> None:
    """for (i = 0; i < n; i++) body(i, brk): a bounded loop the verifier can walk.

    `body` may branch to `brk` (a block) to leave the loop early."""
    counter = pl.slot_uninit(T.U64, f"{name}_i")
    pl.bb.store(counter, I64(0))
    limit = I64(n) if isinstance(n, int) else n
    pl.counted_loop(counter, limit, name, lambda i, step, done: body(i, done))


def _byte_at(pl: "ProbeLowering", ptr: ir.Value, i: ir.Value) -> ir.Value:
    return pl.b.load(pl.bb.gep(ptr, i), typ=I8)


@function("strlen")
def _strlen(pl, call):
    arg = call.args[0]
    s = pl.expr(arg)
    result = pl.slot_uninit(T.U64, "strlen")
    pl.bb.store(result, I64(arg.type.size))

    def body(i, brk):
        nul, more = pl.block("strlen_nul"), pl.block("strlen_more")
        pl.b.cbranch(pl.b.icmp_unsigned("==", _byte_at(pl, s, i), I8(0)), nul, more)
        pl.b.position_at_end(nul)
        pl.bb.store(result, i)
        pl.b.branch(brk)
        pl.b.position_at_end(more)

    _counted_loop(pl, arg.type.size, "strlen", body)
    return pl.bb.load(result)


def _strings_differ(pl: "ProbeLowering", a: ir.Value, b: ir.Value, n: int) -> ir.Value:
    """0 when the first n bytes of two strings are equal (up to a common NUL), else 1."""
    result = pl.slot_uninit(T.U64, "strcmp")
    pl.bb.store(result, I64(0))

    def body(i, brk):
        ca, cb = _byte_at(pl, a, i), _byte_at(pl, b, i)
        differ, same, end = pl.block("strcmp_differ"), pl.block("strcmp_same"), pl.block("strcmp_next")
        pl.b.cbranch(pl.b.icmp_unsigned("!=", ca, cb), differ, same)
        pl.b.position_at_end(differ)
        pl.bb.store(result, I64(1))
        pl.b.branch(brk)
        pl.b.position_at_end(same)
        pl.b.cbranch(pl.b.icmp_unsigned("==", ca, I8(0)), brk, end)
        pl.b.position_at_end(end)

    _counted_loop(pl, n, "strcmp", body)
    return pl.bb.load(result)


@function("strncmp")
def _strncmp(pl, call):
    a, b, n = call.args
    limit = min(n.value if isinstance(n, ast.Integer) else 0, a.type.size, b.type.size)
    return _strings_differ(pl, pl.expr(a), pl.expr(b), limit)


def find_substring(pl: "ProbeLowering", hay_node: ast.Expr, needle_node: ast.Expr, name: str) -> ir.Value:
    """The index of the first needle in the haystack (0 for an empty needle), else -1:
    strcontains() and strstr()."""
    hay, needle = pl.expr(hay_node), pl.expr(needle_node)
    hay_n, needle_n = hay_node.type.size, needle_node.type.size
    found = pl.slot_uninit(T.U64, name)
    pl.bb.store(found, I64(-1 & (2**64 - 1)))
    start = pl.slot_uninit(T.U64, f"{name}_at")

    def outer(i, outer_done):
        pl.bb.store(start, i)

        def inner(j, inner_done):
            nc = _byte_at(pl, needle, j)
            end_of_needle, compare = pl.block(f"{name}_match"), pl.block(f"{name}_cmp")
            pl.b.cbranch(pl.b.icmp_unsigned("==", nc, I8(0)), end_of_needle, compare)
            pl.b.position_at_end(end_of_needle)
            pl.bb.store(found, pl.bb.load(start))
            pl.b.branch(outer_done)
            pl.b.position_at_end(compare)
            pos = pl.b.add(pl.bb.load(start), j)
            in_range, past = pl.block(f"{name}_in"), pl.block(f"{name}_past")
            pl.b.cbranch(pl.b.icmp_unsigned("<", pos, I64(hay_n)), in_range, past)
            pl.b.position_at_end(past)
            pl.b.branch(outer_done)
            pl.b.position_at_end(in_range)
            hc = pl.b.load(pl.bb.gep(hay, pos), typ=I8)
            same = pl.block(f"{name}_next")
            pl.b.cbranch(pl.b.icmp_unsigned("!=", hc, nc), inner_done, same)
            pl.b.position_at_end(same)

        _counted_loop(pl, needle_n, f"{name}_needle", inner)
        # The needle did not match here: stop at the haystack's NUL.
        stop, go_on = pl.block(f"{name}_hay_nul"), pl.block(f"{name}_more")
        pl.b.cbranch(pl.b.icmp_unsigned("==", _byte_at(pl, hay, i), I8(0)), stop, go_on)
        pl.b.position_at_end(stop)
        pl.b.branch(outer_done)
        pl.b.position_at_end(go_on)

    _counted_loop(pl, hay_n, f"{name}_hay", outer)
    return pl.bb.load(found, name=f"{name}_index")


@function("strcontains")
def _strcontains(pl, call):
    index = find_substring(pl, *call.args, "contains")
    return pl.bb.bool_i64(pl.b.icmp_unsigned("!=", index, I64(-1 & (2**64 - 1))))


@function("bswap")
def _bswap(pl, call):
    value = pl.expr(call.args[0])
    bits = call.type.bits
    if bits == 8:
        return pl.b.and_(value, I64(0xFF))
    width = ir.IntType(bits)
    fn = pl.bb._intrinsic(f"llvm.bswap.i{bits}", width, [width])
    narrow = value if bits == 64 else pl.b.trunc(value, width)
    return pl.bb.to_i64(pl.b.call(fn, [narrow]), False)


# ---------------------------------------------------------------- maps

@function("has_key")
def _has_key(pl, call):
    node = call.key_map
    ptr = pl.map_lookup(node, pl.map_key(node))
    return pl.bb.bool_i64(pl.b.icmp_unsigned("!=", ptr, ir.Constant(PTR, None)))


@function("len")
def _len(pl, call):
    """bpf_for_each_map_elem returns how many elements it visited; a stack holds its depth."""
    stack_t = call.args[0].type
    if isinstance(stack_t, T.StackType):
        return pl.bb.load(pl.expr(call.args[0]), 8, offset=stack_t.header - 8, name="stack_len")
    callback = pl.callback("len", lambda key, value: None, [])
    return pl.bb.for_each_map_elem(pl.map_ptr(call.args[0].name), callback, ir.Constant(PTR, None))


# ---------------------------------------------------------------- values formatted in user space

@function("time")
def _time(pl, call):
    event = pl.state.add_event("time")
    event.fmt = call.args[0].value if call.args else "%H:%M:%S\n"
    pl.emit_event(event, [])
    return NONE


FUNCTIONS["cat"] = _printf
FUNCTIONS["system"] = _printf


JOIN_ARGS = 16


@function("join")
def _join(pl, call):
    """Read up to 16 strings from a char *[]; user space joins them up to the first empty one."""
    arr = call.args[0]
    base = pl.expr(arr)
    t = call.arg_type
    user = (arr.type.addrspace == "user") if isinstance(arr.type, T.PointerType) else (
        pl.unit.provider.addrspace == "user")
    if isinstance(arr.type, T.PointerType) and arr.type.addrspace == "any":
        user = None
    ptr = pl.slot(T.U64, "join_ptr")
    strings = []
    for i in range(JOIN_ARGS):
        pl.bb.store(ptr, I64(0))
        pl.bb.probe_read(ptr, 8, pl.b.add(pl.bb.to_i64(base), I64(8 * i)), user=bool(user))
        s = pl.slot(t, f"join{i}")
        pl.bb.probe_read_str(s, t.size, pl.bb.load(ptr), user)
        strings.append((s, t, t))
    event = pl.state.add_event("join", "", [t] * JOIN_ARGS)
    event.fmt = call.args[1].value if len(call.args) == 2 else " "
    pl.emit_event(event, strings)
    return NONE


@function("strftime")
def _strftime(pl, call):
    buf = pl.slot(call.type, "strftime")
    pl.bb.store(buf, pl.expr(call.args[1]))
    return buf


def signal_number(pl: "ProbeLowering", call: ast.Call) -> ir.Value:
    """signal()'s and signal_thread()'s argument as the helpers' u32: a name resolved by typecheck, or a number."""
    arg = call.args[0]
    sig = I64(call.signum) if isinstance(arg, ast.String) else pl.expr(arg)
    return pl.b.trunc(sig, ir.IntType(32))


@function("signal")
def _signal(pl, call):
    pl.bb.send_signal(signal_number(pl, call))
    return NONE


@function("cgroupid")
def _cgroupid(pl, call):
    return I64(call.const_value)


@function("cgroup_path")
def _cgroup_path(pl, call):
    buf = pl.slot(call.type, "cgroup_path")
    pl.bb.store(buf, pl.expr(call.args[0]))
    return buf


def _copy_bytes(pl: "ProbeLowering", dst: ir.Value, node: ast.Expr, value: ir.Value, n: int) -> None:
    """n bytes of node's value into dst: memory values are copied, pointers read."""
    t = node.type
    if isinstance(t, (T.ArrayType, T.StringType, T.RecordType)):
        pl.bb.memcpy(dst, value, min(n, t.size))
        return
    user = (t.addrspace == "user") if isinstance(t, T.PointerType) else pl.unit.provider.addrspace == "user"
    pl.bb.probe_read(dst, n, value, user=user)


@function("ntop")
def _ntop(pl, call):
    """[u64 af][16 address bytes]; user space prints it with inet_ntop."""
    addr = call.args[-1]
    t = addr.type
    buf = pl.slot(call.type, "inet")
    value = pl.expr(addr)
    if len(call.args) == 2:
        pl.bb.store(buf, pl.expr(call.args[0]))
    else:
        pl.bb.store(buf, I64(10 if t.size == 16 and not T.is_integerish(t) else 2))
    if T.is_integerish(t) and not isinstance(t, T.PointerType):
        pl.bb.store(buf, value, 4, 8)
    else:
        _copy_bytes(pl, pl.bb.gep(buf, 8), addr, value, 16 if t.size == 16 else 4)
    return buf


@function("macaddr")
def _macaddr(pl, call):
    buf = pl.slot(call.type, "macaddr")
    _copy_bytes(pl, buf, call.args[0], pl.expr(call.args[0]), 6)
    return buf


@function("buf")
def _buf(pl, call):
    """[u32 length][bytes]."""
    t = call.type
    out = pl.slot(t, "buf")
    arg = call.args[0]
    pl.bb.store(out, I64(t.length), 4, 0)
    if t.length:
        _copy_bytes(pl, pl.bb.gep(out, 4), arg, pl.expr(arg), t.length)
    return out


# Lowerings of the builtins defined in lang/builtins_{process,strings,checks,memory}.py.
from pytrace.codegen import (  # noqa: E402,F401  (they register their lowerings)
    calls_checks, calls_memory, calls_process, calls_strings)
