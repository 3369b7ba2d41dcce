"""An LLVM IR builder for BPF programs.

Every BPF helper call goes through one funnel, `helper()`, and each helper
has one typed method here stating its C prototype. All values in registers
are i64; memory values (strings, tuples, records) are `ptr`s to stack slots
allocated in the function's entry block.
"""

from __future__ import annotations

from llvmlite import ir
from llvmlite.ir.values import ArgumentAttributes

from pytrace.codegen.artifact import CONST_BASE, CONSTANTS

I8, I16, I32, I64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
I1 = ir.IntType(1)
PTR = ir.PointerType()

BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_BTF_ID = 3
BPF_ANY = 0

# helper ids from include/uapi/linux/bpf.h
HELPERS = {
    "map_lookup_elem": 1, "map_update_elem": 2, "map_delete_elem": 3, "ktime_get_ns": 5,
    "get_prandom_u32": 7, "get_smp_processor_id": 8, "get_current_pid_tgid": 14,
    "get_current_uid_gid": 15, "get_current_comm": 16, "get_current_task": 35,
    "get_numa_node_id": 42, "get_current_cgroup_id": 80, "probe_read_user": 112,
    "probe_read_kernel": 113, "probe_read_user_str": 114, "probe_read_kernel_str": 115,
    "jiffies64": 118, "ringbuf_output": 130, "send_signal": 109, "for_each_map_elem": 164, "probe_read_str": 45,
    "get_stack": 67, "get_func_ip": 173, "map_lookup_percpu_elem": 195,
    "get_socket_cookie": 46, "override_return": 58, "send_signal_thread": 117, "get_ns_current_pid_tgid": 120,
    "ktime_get_boot_ns": 125, "d_path": 147, "per_cpu_ptr": 153, "this_cpu_ptr": 154, "ktime_get_tai_ns": 208,
    "trace_printk": 6, "probe_write_user": 36, "loop": 181, "seq_printf": 126,
}

# Helpers whose result cannot change while one program runs (it runs on one CPU, in one task,
# without preemption): their calls are `readnone`, so LLVM makes one call of `pid` and `tid`
# in one probe, as bcc's C does by hand. Not the clocks, nor random numbers.
INVARIANT_HELPERS = frozenset({"get_current_pid_tgid", "get_current_uid_gid", "get_smp_processor_id",
                               "get_current_task", "get_numa_node_id", "get_current_cgroup_id"})

# LLVM's BPF backend expands memset/memcpy inline only up to 128 stores; bigger
# ones are split into chunks, made volatile so the optimiser does not merge them back.
MEM_CHUNK = 256
# Bigger copies and fills (only off the 512-byte stack: scratch map values) are one helper call,
# as bpftrace makes them: probe_read_kernel copies BPF memory, and reading NULL zeroes the buffer.
MEM_HELPER_SIZE = 512


def _set_align(call: ir.Instruction, *aligns: int) -> None:
    """Tell LLVM a memset/memcpy's pointers are aligned, so it expands the call inline with wide stores."""
    for i, a in enumerate(aligns):
        if a > 1:
            attrs = ArgumentAttributes()
            attrs.align = a
            call.arg_attributes[i] = attrs


def int_type(size: int) -> ir.IntType:
    return ir.IntType(size * 8)


class BpfBuilder:
    def __init__(self, module: ir.Module, func: ir.Function) -> None:
        self.module = module
        self.func = func
        self.entry = func.append_basic_block("entry")
        self.body = func.append_basic_block("body")
        self.b = ir.IRBuilder(self.body)
        self._entry_b = ir.IRBuilder(self.entry)
        self._aligned: set[int] = set()  # ids of pointers known to be 8-byte aligned
        # Run-time checks of helper results (codegen/helper_errors.py): called as
        # on_helper_result(name, ret) after each call of a helper in checked_helpers.
        self.checked_helpers: frozenset[str] = frozenset()
        self.on_helper_result = None

    def finish(self) -> None:
        self._entry_b.branch(self.body)

    # ------------------------------------------------------------ module-level declarations
    def _intrinsic(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        return ir.Function(self.module, ir.FunctionType(ret, args), name)

    # ------------------------------------------------------------ memory
    def alloca(self, size: int, name: str) -> ir.Value:
        """A zero-sized-safe, 8-byte aligned stack slot of `size` bytes."""
        slot = self._entry_b.alloca(ir.ArrayType(I8, max(size, 1)), name=name)
        slot.align = 8
        slot.type = PTR  # llvmlite keeps a pointee type for checks; we want plain `ptr`
        self.mark_aligned(slot)
        return slot

    def mark_aligned(self, ptr: ir.Value) -> ir.Value:
        self._aligned.add(id(ptr))
        return ptr

    def _align(self, *ptrs: ir.Value) -> int:
        return 8 if all(id(p) in self._aligned for p in ptrs) else 1

    def gep(self, ptr: ir.Value, offset: int | ir.Value, name: str = "", at: ir.IRBuilder | None = None) -> ir.Value:
        """ptr + offset bytes (emitted at the builder `at`, default the current position)."""
        if isinstance(offset, int):
            if offset == 0:
                return ptr
            offset = I64(offset)
        addr = (at or self.b).gep(ptr, [offset], source_etype=I8, name=name)
        addr.type = PTR
        if id(ptr) in self._aligned and isinstance(offset, ir.Constant) and offset.constant % 8 == 0:
            self.mark_aligned(addr)
        return addr

    def load(self, ptr: ir.Value, size: int = 8, signed: bool = False, offset: int = 0, name: str = "") -> ir.Value:
        """Load an integer of `size` bytes and extend it to i64."""
        value = self.b.load(self.gep(ptr, offset), typ=int_type(size), name=name, align=size)
        if size == 8:
            return value
        return self.b.sext(value, I64) if signed else self.b.zext(value, I64)

    def store(self, ptr: ir.Value, value: ir.Value, size: int = 8, offset: int = 0) -> None:
        if value.type != int_type(size):
            value = self.b.trunc(value, int_type(size)) if value.type.width > size * 8 else self.b.zext(value, int_type(size))
        self.b.store(value, self.gep(ptr, offset), align=size)

    def memset(self, ptr: ir.Value, size: int, byte: int = 0, at: ir.IRBuilder | None = None) -> None:
        """Fill size bytes (at the builder `at`, default the current position)."""
        if size <= 0:
            return
        b = at or self.b
        if size > MEM_HELPER_SIZE and byte == 0:
            self.helper("probe_read_kernel", [ptr, I64(size), ir.Constant(PTR, None)], I64, "memset", check=False, at=b)
            return
        fn = self._intrinsic("llvm.memset.p0.i64", ir.VoidType(), [PTR, I8, I64, I1])
        chunk = MEM_CHUNK if self._align(ptr) == 8 else MEM_CHUNK // 8
        for off in range(0, size, chunk):
            p = self.gep(ptr, off, at=b)
            _set_align(b.call(fn, [p, I8(byte), I64(min(chunk, size - off)), I1(size > chunk)]), self._align(p))

    def memcpy(self, dst: ir.Value, src: ir.Value, size: int) -> None:
        if size <= 0:
            return
        if size > MEM_HELPER_SIZE:
            self.helper("probe_read_kernel", [dst, I64(size), src], I64, "memcpy", check=False)
            return
        fn = self._intrinsic("llvm.memcpy.p0.p0.i64", ir.VoidType(), [PTR, PTR, I64, I1])
        chunk = MEM_CHUNK if self._align(dst, src) == 8 else MEM_CHUNK // 8
        for off in range(0, size, chunk):
            d, s = self.gep(dst, off), self.gep(src, off)
            _set_align(self.b.call(fn, [d, s, I64(min(chunk, size - off)), I1(size > chunk)]),
                       self._align(d), self._align(s))

    # ------------------------------------------------------------ map and constant references
    def map_ref(self, index: int, name: str = "map") -> ir.Value:
        """A map's address, as `ld_imm64 rX, map` patched by the loader."""
        fn = self._intrinsic("llvm.bpf.pseudo", I64, [I64, I64])
        value = self.b.call(fn, [I64(BPF_PSEUDO_MAP_FD), I64(index)], name=name)
        return self.b.inttoptr(value, PTR)

    def kernel_var_ref(self, index: int, name: str = "kvar") -> ir.Value:
        """A kernel variable's address, as `ld_imm64 rX, <BTF id>` (the loader patches the id)."""
        fn = self._intrinsic("llvm.bpf.pseudo", I64, [I64, I64])
        return self.b.inttoptr(self.b.call(fn, [I64(BPF_PSEUDO_BTF_ID), I64(index)], name=name), PTR)

    def runtime_const(self, name: str) -> ir.Value:
        """A 64-bit value fixed by the loader (e.g. cpid)."""
        fn = self._intrinsic("llvm.bpf.pseudo", I64, [I64, I64])
        return self.b.call(fn, [I64(BPF_PSEUDO_MAP_FD), I64(CONST_BASE + CONSTANTS.index(name))], name=name)

    # ------------------------------------------------------------ helpers
    def helper(self, name: str, args: list[ir.Value], ret: ir.Type = I64, result: str = "", check: bool = True,
               at: ir.IRBuilder | None = None) -> ir.Value:
        """The one funnel for BPF helper calls: `call <helper id>` (at the builder `at`, default
        the current position). check=False: a call whose failure is no error (a memset)."""
        b = at or self.b
        fnty = ir.FunctionType(ret, [a.type for a in args])
        callee = b.inttoptr(I64(HELPERS[name]), ir.PointerType(fnty), name=f"{name}_fn")
        ret = b.call(callee, args, name=result or name, attrs=("readnone",) if name in INVARIANT_HELPERS else ())
        if check and name in self.checked_helpers and self.on_helper_result is not None:
            self.on_helper_result(name, ret)
        return ret

    # long bpf_trace_printk(const char *fmt, u32 fmt_size, ...): at most 3 arguments
    def trace_printk(self, fmt: ir.Value, fmt_size: int, args: list[ir.Value]) -> ir.Value:
        return self.helper("trace_printk", [fmt, ir.Constant(ir.IntType(32), fmt_size), *args], I64, "printk")

    # long bpf_probe_write_user(void *dst, const void *src, u32 len)
    def probe_write_user(self, dst: ir.Value, src: ir.Value, size: ir.Value) -> ir.Value:
        return self.helper("probe_write_user", [dst, src, self.b.trunc(size, ir.IntType(32))], I64, "write_user")

    # void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)
    def map_lookup_elem(self, map_ptr: ir.Value, key: ir.Value, name: str = "lookup") -> ir.Value:
        return self.helper("map_lookup_elem", [map_ptr, key], PTR, name)

    # long bpf_map_update_elem(struct bpf_map *map, const void *key, const void *value, u64 flags)
    def map_update_elem(self, map_ptr: ir.Value, key: ir.Value, value: ir.Value, flags: int = BPF_ANY) -> ir.Value:
        return self.helper("map_update_elem", [map_ptr, key, value, I64(flags)], I64, "update")

    # long bpf_map_delete_elem(struct bpf_map *map, const void *key)
    def map_delete_elem(self, map_ptr: ir.Value, key: ir.Value) -> ir.Value:
        return self.helper("map_delete_elem", [map_ptr, key], I64, "delete")

    # u64 bpf_ktime_get_ns(void)
    def ktime_get_ns(self) -> ir.Value:
        return self.helper("ktime_get_ns", [], I64, "nsecs")

    # u64 bpf_ktime_get_boot_ns(void)
    def ktime_get_boot_ns(self) -> ir.Value:
        return self.helper("ktime_get_boot_ns", [], I64, "boot_ns")

    # void *bpf_map_lookup_percpu_elem(struct bpf_map *map, const void *key, u32 cpu)
    def map_lookup_percpu_elem(self, map_ptr: ir.Value, key: ir.Value, cpu: ir.Value, name: str = "lookup") -> ir.Value:
        return self.helper("map_lookup_percpu_elem", [map_ptr, key, self.b.trunc(cpu, I32)], PTR, name)

    # u64 bpf_ktime_get_tai_ns(void)
    def ktime_get_tai_ns(self) -> ir.Value:
        return self.helper("ktime_get_tai_ns", [], I64, "tai_ns")

    # long bpf_get_ns_current_pid_tgid(u64 dev, u64 ino, struct bpf_pidns_info *nsdata, u32 size)
    def get_ns_current_pid_tgid(self, dev: ir.Value, ino: ir.Value, info: ir.Value) -> ir.Value:
        return self.helper("get_ns_current_pid_tgid", [dev, ino, info, I64(8)], I64, "ns_pid_tgid")

    # long bpf_send_signal_thread(u32 sig)
    def send_signal_thread(self, sig: ir.Value) -> ir.Value:
        return self.helper("send_signal_thread", [sig], I64, "send_signal_thread")

    # long bpf_override_return(struct pt_regs *regs, u64 rc)
    def override_return(self, ctx: ir.Value, rc: ir.Value) -> ir.Value:
        return self.helper("override_return", [ctx, rc], I64, "override")

    # u64 bpf_get_socket_cookie(void *sk)
    def get_socket_cookie(self, sk: ir.Value) -> ir.Value:
        return self.helper("get_socket_cookie", [self._as_ptr(sk)], I64, "socket_cookie")

    # long bpf_d_path(struct path *path, char *buf, u32 sz)
    def d_path(self, path: ir.Value, buf: ir.Value, size: int) -> ir.Value:
        return self.helper("d_path", [self._as_ptr(path), buf, I64(size)], I64, "d_path")

    # void *bpf_per_cpu_ptr(const void *percpu_ptr, u32 cpu)
    def per_cpu_ptr(self, percpu: ir.Value, cpu: ir.Value) -> ir.Value:
        return self.helper("per_cpu_ptr", [percpu, cpu], PTR, "per_cpu_ptr")

    # void *bpf_this_cpu_ptr(const void *percpu_ptr)
    def this_cpu_ptr(self, percpu: ir.Value) -> ir.Value:
        return self.helper("this_cpu_ptr", [percpu], PTR, "this_cpu_ptr")

    # u32 bpf_get_prandom_u32(void)
    def get_prandom_u32(self) -> ir.Value:
        return self.helper("get_prandom_u32", [], I64, "rand")

    # u32 bpf_get_smp_processor_id(void)
    def get_smp_processor_id(self) -> ir.Value:
        return self.helper("get_smp_processor_id", [], I64, "cpu")

    # u64 bpf_get_current_pid_tgid(void)
    def get_current_pid_tgid(self) -> ir.Value:
        return self.helper("get_current_pid_tgid", [], I64, "pid_tgid")

    # u64 bpf_get_current_uid_gid(void)
    def get_current_uid_gid(self) -> ir.Value:
        return self.helper("get_current_uid_gid", [], I64, "uid_gid")

    # long bpf_get_current_comm(void *buf, u32 size_of_buf)
    def get_current_comm(self, buf: ir.Value, size: int) -> ir.Value:
        return self.helper("get_current_comm", [buf, I64(size)], I64, "get_comm")

    # u64 bpf_get_current_task(void)
    def get_current_task(self) -> ir.Value:
        return self.helper("get_current_task", [], I64, "curtask")

    # long bpf_get_numa_node_id(void)
    def get_numa_node_id(self) -> ir.Value:
        return self.helper("get_numa_node_id", [], I64, "numaid")

    # u64 bpf_get_current_cgroup_id(void)
    def get_current_cgroup_id(self) -> ir.Value:
        return self.helper("get_current_cgroup_id", [], I64, "cgroup")

    # u64 bpf_get_func_ip(void *ctx): for a uprobe, the run-time address it is placed at
    def get_func_ip(self, ctx: ir.Value) -> ir.Value:
        return self.helper("get_func_ip", [ctx], I64, "func_ip")

    # u64 bpf_jiffies64(void)
    def jiffies64(self) -> ir.Value:
        return self.helper("jiffies64", [], I64, "jiffies")

    # long bpf_probe_read_{user,kernel}(void *dst, u32 size, const void *unsafe_ptr)
    def probe_read(self, dst: ir.Value, size: int | ir.Value, src: ir.Value, user: bool) -> ir.Value:
        name = "probe_read_user" if user else "probe_read_kernel"
        size_v = I64(size) if isinstance(size, int) else size
        return self.helper(name, [dst, size_v, self._as_ptr(src)], I64, name)

    # long bpf_probe_read_{user,kernel}_str(void *dst, u32 size, const void *unsafe_ptr)
    # user=None: the legacy bpf_probe_read_str, which on x86 picks user or
    # kernel memory by the address (for kernel-function arguments of unknown origin)
    def probe_read_str(self, dst: ir.Value, size: int | ir.Value, src: ir.Value, user: bool | None) -> ir.Value:
        name = {True: "probe_read_user_str", False: "probe_read_kernel_str", None: "probe_read_str"}[user]
        return self.helper(name, [dst, I64(size) if isinstance(size, int) else size, self._as_ptr(src)], I64, name)

    # long bpf_get_stack(void *ctx, void *buf, u32 size, u64 flags)
    def get_stack(self, ctx: ir.Value, buf: ir.Value, size: int, flags: int) -> ir.Value:
        return self.helper("get_stack", [ctx, buf, I64(size), I64(flags)], I64, "get_stack")

    def guarded_entry_lookup(self, map_ptr_index: int, key: int, name: str) -> ir.Value:
        """Look up a map value once, before the body (returning 0 if it is
        missing), so the pointer dominates the whole function."""
        pre = self.func.append_basic_block(f"{name}_lookup")
        missing = self.func.append_basic_block(f"{name}_missing")
        with self.b.goto_block(pre):
            slot = self.alloca(4, f"{name}_key")
            self.store(slot, ir.IntType(32)(key), 4)
            ptr = self.map_lookup_elem(self.map_ref(map_ptr_index, f"{name}_map"), slot, name)
            self.b.cbranch(self.b.icmp_unsigned("==", ptr, ir.Constant(PTR, None)), missing, self.body)
        with self.b.goto_block(missing):
            self.b.ret(I64(0))
        self.body = pre  # finish() enters the function through the lookup
        return ptr

    # long bpf_send_signal(u32 sig)
    def send_signal(self, sig: ir.Value) -> ir.Value:
        return self.helper("send_signal", [sig], I64, "send_signal")

    # long bpf_for_each_map_elem(struct bpf_map *map, void *callback_fn, void *callback_ctx, u64 flags)
    def for_each_map_elem(self, map_ptr: ir.Value, callback: ir.Function, cb_ctx: ir.Value) -> ir.Value:
        return self.helper("for_each_map_elem", [map_ptr, callback, cb_ctx, I64(0)], I64, "for_each")

    # long bpf_loop(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags)
    def loop(self, count: ir.Value, callback: ir.Function, cb_ctx: ir.Value) -> ir.Value:
        return self.helper("loop", [self.b.trunc(count, ir.IntType(32)), callback, cb_ctx, I64(0)], I64, "loop")

    # long bpf_ringbuf_output(void *ringbuf, void *data, u64 size, u64 flags)
    def ringbuf_output(self, ringbuf: ir.Value, data: ir.Value, size: int) -> ir.Value:
        return self.helper("ringbuf_output", [ringbuf, data, I64(size), I64(0)], I64, "ringbuf_output")

    def _as_ptr(self, value: ir.Value) -> ir.Value:
        return self.b.inttoptr(value, PTR) if isinstance(value.type, ir.IntType) else value

    # ------------------------------------------------------------ small conveniences
    def to_i64(self, value: ir.Value, signed: bool = False) -> ir.Value:
        if isinstance(value.type, ir.PointerType):
            return self.b.ptrtoint(value, I64)
        if value.type.width == 64:
            return value
        if value.type.width > 64:
            return self.b.trunc(value, I64)
        return self.b.sext(value, I64) if signed else self.b.zext(value, I64)

    def bool_i64(self, cond: ir.Value) -> ir.Value:
        return self.b.zext(cond, I64)
