"""The builtins table: every builtin variable and function of the language.

Each entry names its type (or a type-checking hook), the probe types that
offer it, and a one-line description; the README's language reference is
generated from these tables (scripts/gen_reference.py), so it cannot drift.
Code generation for each entry is one lowering function registered under
the same name in codegen/calls.py. The aggregation entries (count(), hist()...)
are derived from lang/aggregations.py.

A function's `check(call, tc)` hook type-checks the call's arguments with
the type checker `tc` (lang/passes/typecheck.py) and returns the result type.
"""

from __future__ import annotations

from pytrace.lang.records import record
from typing import TYPE_CHECKING, Callable

from pytrace.lang import aggregations, ast
from pytrace.lang import types as T

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker

ALL_PROBES = "all"
# A variable that lives in a probe's context (args, retval, func, argN): the
# providers that list it in their `variable_names` offer it (see offered_by).
PROVIDER_VARIABLE = "provider"


@record(frozen=True)
class BuiltinVar:
    name: str
    type: T.Type
    doc: str
    probes: str = ALL_PROBES  # ALL_PROBES, or PROVIDER_VARIABLE: offered by the providers that name it
    printer: str = ""  # the runtime decoder its values print with (runtime/maps.decode), if special
    # Its value differs between the attach points of one probe (probe, args...):
    # a probe using it on several attach points is compiled once per attach point.
    per_attach_point: bool = False


@record(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int
    check: Callable[[ast.Call, "TypeChecker"], T.Type]
    doc: str
    signature: str
    aggregation: bool = False  # only valid as `@map = f(...)`
    unsafe: bool = False  # needs --unsafe
    keeps_identifiers: bool = False  # bare-name arguments are words (kstack(perf)), not builtins
    printer: str = ""  # the runtime decoder its values print with (runtime/maps.decode), if special
    # Its value differs between the attach points of one probe (as BuiltinVar.per_attach_point).
    per_attach_point: bool = False
    bare: bool = False  # also written without parentheses: `ppid` is `ppid()`
    # Its helper takes a BTF-typed kernel pointer (bpf_get_socket_cookie): a raw
    # tracepoint calling it is loaded as tp_btf, whose arguments carry BTF types.
    btf_pointer_arg: bool = False
    # A C function of bpftrace's embedded stdlib (its path there), done natively here: known
    # only once the script imports that file or its directory (`import "stdlib/test";`).
    imported_from: str = ""


# ---------------------------------------------------------------- variables

COMM = T.StringType(16)

VARIABLES: dict[str, BuiltinVar] = {v.name: v for v in [
    BuiltinVar("pid", T.U32, "process id (kernel tgid) of the current thread"),
    BuiltinVar("tid", T.U32, "thread id (kernel pid) of the current thread"),
    BuiltinVar("uid", T.U32, "user id of the current thread"),
    BuiltinVar("gid", T.U32, "group id of the current thread"),
    BuiltinVar("nsecs", T.U64, "nanoseconds since boot (bpf_ktime_get_ns)"),
    BuiltinVar("elapsed", T.U64, "nanoseconds since pytrace started"),
    BuiltinVar("cpu", T.U64, "id of the CPU running the probe"),
    BuiltinVar("comm", COMM, "name of the current thread (16 bytes)"),
    BuiltinVar("probe", T.StringType(64), "full name of the probe that fired", per_attach_point=True),
    BuiltinVar("cpid", T.U64, "pid of the child process started with -c"),
    BuiltinVar("rand", T.U32, "a pseudo-random 32-bit number"),
    BuiltinVar("curtask", T.PointerType(None), "address of the current task_struct"),
    BuiltinVar("ctx", T.PointerType(None), "the probe's context: its BPF program's argument (cast it to read it)"),
    BuiltinVar("ncpus", T.U64, "number of CPUs"),
    BuiltinVar("numaid", T.U32, "id of the NUMA node running the probe"),
    BuiltinVar("jiffies", T.U64, "the kernel's jiffies counter (bpf_jiffies64)"),
    BuiltinVar("cgroup", T.U64, "cgroup v2 id of the current task"),
    BuiltinVar("username", T.UserFormatType("username"), "name of the current user (uid looked up in user space)",
               printer="username"),
    BuiltinVar("kstack", T.StackType(True), "the kernel stack (as kstack())", printer="kstack"),
    BuiltinVar("ustack", T.StackType(False), "the user stack (as ustack())", printer="ustack"),
    BuiltinVar("args", T.VOID, "the probe's typed arguments (a record)", PROVIDER_VARIABLE, per_attach_point=True),
    BuiltinVar("retval", T.S64, "return value of the probed function", PROVIDER_VARIABLE),
    BuiltinVar("func", T.StringType(64), "name of the probed function", PROVIDER_VARIABLE,
               per_attach_point=True),
    *(BuiltinVar(f"arg{i}", T.U64, f"argument {i} of the probed function", PROVIDER_VARIABLE, per_attach_point=True)
      for i in range(6)),
]}


def variable(name: str) -> BuiltinVar | None:
    return VARIABLES.get(name)


def per_attach_point(name: str) -> bool:
    """Whether a builtin's value differs between the attach points of one probe.
    A provider's own variables missing from the table (usdt's arg11...) are
    assumed to."""
    var = VARIABLES.get(name)
    return var.per_attach_point if var is not None else True


def call_per_attach_point(name: str) -> bool:
    """Whether a function's value differs between the attach points of one probe."""
    func = FUNCTIONS.get(name)
    return func is not None and func.per_attach_point


def offered_by(var: BuiltinVar) -> str:
    """The probe types offering a variable, as the reference and diagnostics name them."""
    if var.probes != PROVIDER_VARIABLE:
        return var.probes
    from pytrace.lang.probes import PROVIDERS

    return ", ".join(p.name for p in PROVIDERS if var.name in p.variable_names)


# ---------------------------------------------------------------- functions
# Type-checking hooks. Each returns the call's type.


def _void(call: ast.Call, tc: "TypeChecker") -> T.Type:
    for a in call.args:
        tc.expr(a)
    return T.VOID


def _printf(call: ast.Call, tc: "TypeChecker") -> T.Type:
    tc.check_format_call(call)
    return T.VOID


def _exit(call: ast.Call, tc: "TypeChecker") -> T.Type:
    for a in call.args:
        tc.expect_int(call.name, a)
    return T.VOID


def _map_op(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """print/clear/zero(@map): the first argument names a whole map."""
    tc.expect_map(call.name, call.args[0], whole=True)
    for a in call.args[1:]:
        tc.expect_int(call.name, a)
    return T.VOID


def _print(call: ast.Call, tc: "TypeChecker") -> T.Type:
    first = call.args[0]
    if isinstance(first, ast.Map) and not first.keys:
        return _map_op(call, tc)
    if len(call.args) > 1:
        tc.error("print() with more than one argument expects a map as the first argument", first)
    t = tc.expr(first)
    if isinstance(t, T.AggType):  # an aggregation that does not read as an integer (bpftrace's words)
        if aggregations.AGGREGATIONS[t.func].buckets:
            tc.error(f"Map type {t.name} cannot print the value of individual keys. You must print the whole map.",
                     call)
        else:
            tc.error(f"{t.name} type passed to print() is not printable", call)
    return T.VOID


def _delete(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """delete(@m, key) / delete(@scalar) / the deprecated delete(@m[key]): true when an element was removed."""
    first = call.args[0]
    if len(call.args) == 1:
        if not isinstance(first, ast.Map):
            tc.error("delete() expects a map element, e.g. delete(@m[key])", first)
            return T.BOOL
        if not first.keys and first.name in tc.ctx.maps and not tc.map_is_scalar(first):
            tc.error("call to delete() with a single argument expects a map without explicit keys (scalar map)",
                     call)
            return T.BOOL
        tc.expect_map(call.name, first, whole=False)
        return T.BOOL
    info = tc.expect_map(call.name, first, whole=True)
    key = call.args[1]
    if info is not None and not info.key_types:
        tc.error("call to delete() with two arguments expects a map with explicit keys (non-scalar map)", call)
        return T.BOOL
    if info is not None:
        keys = list(key.elems) if isinstance(key, ast.Tuple) and len(info.key_types or []) > 1 else [key]
        call.key_map = ast.Map(first.name, keys, span=key.span)
        tc.map_keys(call.key_map, info, assign=False)
    else:
        tc.expr(key)
    return T.BOOL


def _str(call: ast.Call, tc: "TypeChecker") -> T.Type:
    t = tc.expr(call.args[0])
    if not isinstance(t, (T.PointerType, T.IntType, T.StringType)):
        tc.error(f"str() expects a pointer or an integer, got {T.describe(t)}", call.args[0])
    size = tc.max_strlen
    if len(call.args) == 2:
        tc.expect_int("str", call.args[1])
        n = tc.const_int(call.args[1])
        if n is not None:  # the length counts the NUL: str(p, 5) holds 4 characters
            size = max(1, min(n, size))
    if isinstance(t, T.StringType):
        return t
    return T.StringType(size)


def _agg(agg: aggregations.Aggregation) -> Callable[[ast.Call, "TypeChecker"], T.Type]:
    """The check of an aggregation call, from its entry in lang/aggregations.py."""
    def check(call: ast.Call, tc: "TypeChecker") -> T.Type:
        signed = False
        if call.args:
            tc.expect_int(call.name, call.args[0])
            signed = T.is_signed(call.args[0].type) or agg.always_signed
        return T.AggType(agg.name, signed, agg.params(call, tc))
    return check


MAX_STACK_LIMIT = 1024


def _stack(kernel: bool) -> Callable[[ast.Call, "TypeChecker"], T.Type]:
    """kstack([mode, ][limit]) / ustack(...): mode is a bare word, limit a literal."""
    def check(call: ast.Call, tc: "TypeChecker") -> T.Type:
        mode, limit = tc.ctx.options.stack_mode, T.DEFAULT_STACK_LIMIT  # config stack_mode
        args = list(call.args)
        if args and isinstance(args[0], ast.Identifier):
            word = args.pop(0)
            if word.name in T.STACK_MODES:
                mode = word.name
            else:
                tc.error(f"Error parsing stack mode: {call.name}: {T.STACK_MODE_ERROR}", word)
        elif len(args) == 2:
            tc.error(f"{call.name}() expects a stack mode literal ({T.describe(tc.expr(args[0]))} provided)",
                     args[0])
            args.pop(0)
        if args:
            if isinstance(args[0], ast.Identifier):
                tc.error(f"{call.name}() expects a integer literal (stack mode provided)", args[0])
            else:
                tc.expr(args[0])
                n = tc.const_int(args[0])
                if n is None:
                    tc.error(f"{call.name}: invalid limit value", args[0])
                elif n > MAX_STACK_LIMIT:
                    tc.error(f"{call.name}([int limit]): limit shouldn't exceed {MAX_STACK_LIMIT}, {n} given",
                             call)
                elif n < 1:
                    tc.error(f"{call.name}([int limit]): limit must be at least 1, {n} given", call)
                else:
                    limit = n
        if kernel and mode == "build_id":
            tc.error("'build_id' stack mode can only be used for ustack", call)
        return T.StackType(kernel, mode, limit)
    return check


def _sym(kernel: bool) -> Callable[[ast.Call, "TypeChecker"], T.Type]:
    def check(call: ast.Call, tc: "TypeChecker") -> T.Type:
        tc.expect_int(call.name, call.args[0])
        return T.SymbolType(kernel)
    return check


def _string_literal(call: ast.Call, tc: "TypeChecker", wording: str = "expects a string literal") -> str | None:
    arg = call.args[0]
    tc.expr(arg)
    if not isinstance(arg, ast.String):
        tc.error(f"{call.name}() {wording}", arg)
        return None
    return arg.value


def _kaddr(call: ast.Call, tc: "TypeChecker") -> T.Type:
    name = _string_literal(call, tc)
    if name is not None:
        call.address = tc.ctx.kernel.kernel_symbol(name)
        if call.address is None:
            tc.error(f"Failed to resolve kernel symbol: {name}", call)
    return T.U64


_UADDR_WIDTHS = {1: T.U8, 2: T.U16, 4: T.U32, 8: T.U64}


def _uaddr(call: ast.Call, tc: "TypeChecker") -> T.Type:
    from pytrace.lang import symtab

    name = _string_literal(call, tc)
    unit = tc.unit
    binary = unit.specs[0].target.get("binary") if unit is not None and unit.specs else None
    if unit is None or unit.provider.addrspace != "user" or not binary:
        tc.error("uaddr can only be used with uprobes, uretprobes and usdt probes", call)
        return T.PointerType(T.U64, "user")
    if name is None:
        return T.PointerType(T.U64, "user")
    found = symtab.elf_symbol(binary, name)
    call.address = found[0] if found else None
    if found is None:
        tc.error(f"Could not resolve symbol: {binary}:{name}", call)
        return T.PointerType(T.U64, "user")
    return T.PointerType(_UADDR_WIDTHS.get(found[1], T.U64), "user")


def _reg(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """reg("ip"): a saved register of a pt_regs context (kprobe, uprobe, usdt)."""
    from pytrace.lang.probes.kprobe import PT_REGS

    arg = call.args[0]
    if not isinstance(arg, ast.String):
        tc.error("reg() expects a string literal naming a register", arg)
    elif arg.value not in PT_REGS:
        tc.error(f"'{arg.value}' is not a valid register on this architecture (x86_64)", call)
    elif tc.unit is not None and not tc.unit.provider.pt_regs_context:
        tc.error(f"The reg function cannot be used with {tc.unit.provider.name} probes", call)
    return T.U64


# ---------------------------------------------------------------- strings, maps, user-space values


def _expect_string(tc: "TypeChecker", fname: str, node: ast.Expr) -> T.Type:
    t = tc.expr(node)
    if not isinstance(t, T.StringType):
        tc.error(f"{fname}() expects a string argument ({T.describe(t)} provided)", node)
    return t


def _strlen(call: ast.Call, tc: "TypeChecker") -> T.Type:
    _expect_string(tc, "strlen", call.args[0])
    return T.U64


def _strncmp(call: ast.Call, tc: "TypeChecker") -> T.Type:
    _expect_string(tc, "strncmp", call.args[0])
    _expect_string(tc, "strncmp", call.args[1])
    n = tc.expect_const("strncmp", call.args[2], "the third argument")
    if n is not None and n < 0:
        tc.error("strncmp() length must be >= 0", call.args[2])
    return T.S64


def _strcontains(call: ast.Call, tc: "TypeChecker") -> T.Type:
    _expect_string(tc, "strcontains", call.args[0])
    _expect_string(tc, "strcontains", call.args[1])
    return T.BOOL


def _bswap(call: ast.Call, tc: "TypeChecker") -> T.Type:
    if not tc.expect_int("bswap", call.args[0]):
        return T.U64
    t = call.args[0].type
    return T.IntType(t.bits, False) if isinstance(t, T.IntType) else T.U8


def _has_key(call: ast.Call, tc: "TypeChecker") -> T.Type:
    info = tc.expect_map("has_key", call.args[0], whole=True)
    key = call.args[1]
    if info is not None and not info.key_types:
        tc.error("call to has_key() expects a map with explicit keys (non-scalar map)", call)
        return T.BOOL
    if info is not None:
        keys = list(key.elems) if isinstance(key, ast.Tuple) and len(info.key_types or []) > 1 else [key]
        call.key_map = ast.Map(call.args[0].name, keys, span=key.span)
        tc.map_keys(call.key_map, info, assign=False)
    else:
        tc.expr(key)
    return T.BOOL


def _len(call: ast.Call, tc: "TypeChecker") -> T.Type:
    """len(@map) counts a keyed map's elements; len(stack) is a kstack/ustack's depth."""
    arg = call.args[0]
    if not isinstance(arg, ast.Map):
        if not isinstance(tc.expr(arg), T.StackType):
            tc.error("call to len() expects a map, ustack, or kstack", call)
    elif tc.expect_map("len", arg, whole=True) is not None and tc.map_is_scalar(arg):
        tc.error("call to len() expects a map with explicit keys (non-scalar map)", call)
    return T.S64


def _time(call: ast.Call, tc: "TypeChecker") -> T.Type:
    if call.args and not isinstance(call.args[0], ast.String):
        tc.error("time() expects a string literal", call.args[0])
    if call.args:
        tc.expr(call.args[0])
    return T.VOID


def _strftime(call: ast.Call, tc: "TypeChecker") -> T.Type:
    fmt = call.args[0]
    tc.expr(fmt)
    if not isinstance(fmt, ast.String):
        tc.error("strftime() expects a string literal as the format", fmt)
    tc.expect_int("strftime", call.args[1])
    value = tc.const_int(call.args[1])
    if value is not None and value < 0:
        tc.error("strftime() timestamp must be non-negative", call.args[1])
    ts = call.args[1]
    clock = ts.args[0] if isinstance(ts, ast.Call) and ts.name == "nsecs" and ts.args else None
    if isinstance(clock, ast.Identifier) and clock.name == "monotonic":
        tc.error("strftime() can not take a monotonic timestamp", call)
    return T.UserFormatType("strftime", 8, fmt.value if isinstance(fmt, ast.String) else "")


def _signal(call: ast.Call, tc: "TypeChecker") -> T.Type:
    import signal as signals

    arg = call.args[0]
    tc.expr(arg)
    if isinstance(arg, ast.String):
        name = arg.value if arg.value.startswith("SIG") else "SIG" + arg.value
        num = getattr(signals, name, None)
        if not isinstance(num, int):
            tc.error(f"Invalid string for signal: {arg.value}", arg)
        call.signum = int(num or 0)
    elif not T.is_int(arg.type):
        tc.error(f"signal() only supports integer or string arguments ({T.describe(arg.type)} provided)", arg)
    else:
        n = tc.const_int(arg)
        if n is not None and not 1 <= n <= 64:
            tc.error("sig must be between 1 and 64", arg)
    return T.VOID


def _cgroupid(call: ast.Call, tc: "TypeChecker") -> T.Type:
    import os

    path = _string_literal(call, tc)
    call.const_value = 0
    if path is not None:
        try:
            call.const_value = os.stat(path).st_ino
        except OSError as e:
            tc.error(f"cgroupid: can't read {path}: {e.strerror}", call)
        except ValueError:  # a NUL byte in the path
            tc.error("cgroupid: a path cannot contain a NUL byte", call)
    return T.U64


def _cgroup_path(call: ast.Call, tc: "TypeChecker") -> T.Type:
    tc.expect_int("cgroup_path", call.args[0])
    flt = ""
    if len(call.args) == 2:
        tc.expr(call.args[1])
        if not isinstance(call.args[1], ast.String):
            tc.error("cgroup_path() expects a string literal as the filter", call.args[1])
        else:
            flt = call.args[1].value
    return T.UserFormatType("cgroup_path", 8, flt)


def _ntop(call: ast.Call, tc: "TypeChecker") -> T.Type:
    if len(call.args) == 2:
        tc.expect_int("ntop", call.args[0])
    addr = call.args[-1]
    t = tc.expr(addr)
    ok = T.is_integerish(t) or (isinstance(t, T.ArrayType) and t.size in (4, 16)) or isinstance(t, T.StringType)
    if not ok:
        tc.error(f"ntop() expects an integer or char[4] or char[16] argument, got {T.describe(t)}", addr)
    return T.UserFormatType("ntop", 24)


def _macaddr(call: ast.Call, tc: "TypeChecker") -> T.Type:
    t = tc.expr(call.args[0])
    if not (isinstance(t, (T.PointerType, T.StringType)) or isinstance(t, T.ArrayType) and t.size >= 6):
        tc.error(f"macaddr() expects a char[6] array or a pointer ({T.describe(t)} provided)", call.args[0])
    return T.UserFormatType("macaddr", 8)


def _buf(call: ast.Call, tc: "TypeChecker") -> T.Type:
    t = tc.expr(call.args[0])
    size = t.size if isinstance(t, (T.ArrayType, T.StringType)) else None
    if len(call.args) == 2:
        tc.expect_int("buf", call.args[1])
        n = tc.const_int(call.args[1])
        size = max(0, min(n, tc.max_strlen)) if n is not None else tc.max_strlen
    elif size is None:
        tc.error("buf() expects a length argument for a non-array", call)
        size = 0
    if not (T.is_integerish(t) or isinstance(t, (T.ArrayType, T.StringType))):
        tc.error(f"buf() expects a pointer or an array ({T.describe(t)} provided)", call.args[0])
    return T.BufferType(min(size, tc.max_strlen))


def _join(call: ast.Call, tc: "TypeChecker") -> T.Type:
    t = tc.expr(call.args[0])
    if not T.is_integerish(t):
        tc.error(f"join() expects a char *[] argument ({T.describe(t)} provided)", call.args[0])
    if len(call.args) == 2:
        tc.expr(call.args[1])
        if not isinstance(call.args[1], ast.String):
            tc.error("join() expects a string literal as the separator", call.args[1])
    call.arg_type = T.StringType(tc.max_strlen)
    return T.VOID


def _f(name, lo, hi, check, doc, sig, **kw) -> Function:
    return Function(name, lo, hi, check, doc, sig, **kw)


def _always_true(call: ast.Call, tc: "TypeChecker") -> T.Type:
    return T.S32  # C's int


FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    _f("printf", 1, 64, _printf, "print formatted text as each event arrives", "printf(fmt, ...)"),
    _f("print", 1, 3, _print, "print a map (optionally its top N entries, values divided by div) or a value",
       "print(@map[, top[, div]]) | print(value)"),
    _f("clear", 1, 1, _map_op, "delete every entry of a map", "clear(@map)"),
    _f("zero", 1, 1, _map_op, "set every value of a map to zero", "zero(@map)"),
    _f("__always_true", 0, 0, _always_true,
       "1: bpftrace's check that its C interop works (after `import \"stdlib/test\"`)", "__always_true()",
       imported_from="stdlib/test/test.bpf.c"),
    _f("delete", 1, 2, _delete, "delete one map entry: true when it was there", "delete(@map[key]) | delete(@map, key)"),
    _f("exit", 0, 1, _exit, "stop tracing: run END, print maps and exit", "exit([code])"),
    _f("str", 1, 2, _str, "read a NUL-terminated string from a pointer", "str(ptr[, len])"),
    *(_f(a.name, a.min_args, a.max_args, _agg(a), a.doc, a.signature, aggregation=True)
      for a in aggregations.AGGREGATIONS.values()),
    _f("reg", 1, 1, _reg, "a register saved at the probe (kprobe, uprobe, usdt)", 'reg("ip")'),
    _f("kstack", 0, 2, _stack(True), "the kernel stack, symbolised when printed (modes: bpftrace, perf, raw; not build_id)",
       "kstack([mode, ][limit])", keeps_identifiers=True, printer="kstack"),
    _f("ustack", 0, 2, _stack(False), "the user stack, symbolised when printed (modes: bpftrace, perf, raw, build_id)",
       "ustack([mode, ][limit])", keeps_identifiers=True, printer="ustack"),
    _f("ksym", 1, 1, _sym(True), "the name of the kernel function containing an address", "ksym(addr)", printer="ksym"),
    _f("usym", 1, 1, _sym(False), "the name of the user function containing an address", "usym(addr)", printer="usym"),
    _f("kaddr", 1, 1, _kaddr, "the address of a kernel symbol (from /proc/kallsyms, at compile time)",
       'kaddr("name")'),
    _f("uaddr", 1, 1, _uaddr, "the address of a symbol in the probed binary (uprobe, uretprobe, usdt)",
       'uaddr("name")', per_attach_point=True),
    _f("strlen", 1, 1, _strlen, "length of a string", "strlen(s)"),
    _f("strncmp", 3, 3, _strncmp, "compare up to n bytes of two strings (0 when equal)", "strncmp(s1, s2, n)"),
    _f("strcontains", 2, 2, _strcontains, "whether haystack contains needle", "strcontains(haystack, needle)"),
    _f("bswap", 1, 1, _bswap, "reverse the bytes of an integer", "bswap(n)"),
    _f("has_key", 2, 2, _has_key, "whether a map has a key", "has_key(@map, key)"),
    _f("len", 1, 1, _len, "number of elements in a map", "len(@map)"),
    _f("time", 0, 1, _time, "print the current wall time (formatted in user space)", 'time(["%H:%M:%S\\n"])'),
    _f("strftime", 2, 2, _strftime, "a boot-time timestamp in ns, formatted in user space when printed",
       "strftime(fmt, nsecs)", printer="strftime"),
    _f("cat", 1, 64, _printf, "print the contents of a file (name formatted like printf)", "cat(fmt, ...)"),
    _f("system", 1, 64, _printf, "run a shell command (formatted like printf) and print its output",
       "system(fmt, ...)", unsafe=True),
    _f("signal", 1, 1, _signal, "send a signal to the current process", "signal(sig)", unsafe=True),
    _f("cgroupid", 1, 1, _cgroupid, "the cgroup v2 id of a cgroup path (at compile time)", 'cgroupid("path")'),
    _f("cgroup_path", 1, 2, _cgroup_path, "the path of a cgroup id, resolved in user space when printed",
       "cgroup_path(id[, filter])", printer="cgroup_path"),
    _f("ntop", 1, 2, _ntop, "text form of an IPv4/IPv6 address", "ntop([af, ]addr)", printer="ntop"),
    _f("macaddr", 1, 1, _macaddr, "text form of a MAC address", "macaddr(mac)", printer="macaddr"),
    _f("buf", 1, 2, _buf, "read bytes into a buffer (print with %r, %rx, %rh)", "buf(ptr[, len])", printer="buffer"),
    _f("join", 1, 2, _join, "print the strings of a char *[] array (up to 16), separated by sep", "join(argv[, sep])"),
]}


def function(name: str) -> Function | None:
    return FUNCTIONS.get(name)


# Other spellings of a builtin: `__builtin_comm` is `comm` (filled by the modules that define them).
ALIASES: dict[str, str] = {}


def register(*entries: BuiltinVar | Function) -> None:
    """Add entries defined in another module (lang/builtins_process.py...)."""
    for e in entries:
        (VARIABLES if isinstance(e, BuiltinVar) else FUNCTIONS)[e.name] = e


# A call to suggest when an aggregation is misused, e.g. "hist(retval)".
AGGREGATE_HINTS = {a.name: a.hint for a in aggregations.AGGREGATIONS.values()}


# Process, time and probe builtins; strings, string tables and type predicates;
# checks, messages and settings; pointers and memory.
from pytrace.lang import (  # noqa: E402,F401  (they register their entries)
    builtins_checks, builtins_memory, builtins_process, builtins_strings)
