"""Lower the typed AST to LLVM IR: one BPF function per probe attach point.

Scalars (integers, bools, pointers) are i64 values; strings, tuples and
records are pointers to zero-initialised stack slots of their type's size.
Builtin variables and functions are lowered by the functions registered in
codegen/calls.py; this module handles the language's structure: statements,
operators, maps, variables and events sent to user space.
"""

from __future__ import annotations

from llvmlite import ir

from pytrace.codegen import agg_read, calls, helper_errors, memory, operators, value_exprs
from pytrace.codegen.artifact import EventSpec
from pytrace.codegen.state import E2BIG, ModuleState, bpf_key_type
from pytrace.codegen.ctxvar import load_context_var
from pytrace.codegen.irbuilder import I1, I8, I64, PTR, BpfBuilder
from pytrace.lang import ast
from pytrace.lang.passes import type_rules
from pytrace.lang import types as T
from pytrace.lang.context import ProbeUnit
from pytrace.lang.probes.base import ProbeSpec
from pytrace.lang.visitor import dispatch_table, walk

SCRATCH_PAGE = 32768  # the most a per-CPU map value may hold: a program's scratch is pages of this, one entry each


def _flexible(node: ast.Expr) -> bool:
    """A non-negative integer literal takes the other operand's sign."""
    return isinstance(node, ast.Integer) and 0 <= node.value < 1 << 63


def var_key(var: ast.Variable) -> str:
    """The type checker's name for this scratch variable's slot (see TypeChecker.var_key)."""
    return var.key or var.name


class _Loop:
    def __init__(self, cont: ir.Block, brk: ir.Block) -> None:
        self.cont, self.brk = cont, brk


class ProbeLowering:
    def __init__(self, state: ModuleState, unit: ProbeUnit, spec: ProbeSpec, func_name: str) -> None:
        self.state = state
        self.unit = unit
        self.spec = spec
        fnty = ir.FunctionType(I64, [PTR])
        self.func = ir.Function(state.module, fnty, func_name)
        self.func.args[0].name = "ctx"
        self.func.section = f"prog/{func_name}"
        self.bb = BpfBuilder(state.module, self.func)
        self.b = self.bb.b
        self.at: ast.Node | None = None  # the statement or expression being lowered (helper errors' place)
        helper_errors.install(self)
        self.ctx_ptr = self.func.args[0]
        self.vars: dict[str, ir.Value] = {}
        self.loops: list[_Loop] = []
        self._scratch: tuple[ir.Value, ir.Block, ir.Block] | None = None  # (entry pointer, lookup block, body)
        self.callback_ctx: ir.Value | None = None  # inside a for-map callback: its context
        # Variables a for-map loop body uses (the loop's own and those it shares with the probe).
        self.shared_vars = {var_key(v) for loop in walk(unit.probe)
                            if isinstance(loop, ast.For) and isinstance(loop.iterable, ast.Map)
                            for v in walk(loop.body) if isinstance(v, ast.Variable)}
        self._scratch_used = 0
        # Memory values bigger than this live in the scratch map (config on_stack_limit, 32 as bpftrace's).
        self.on_stack_limit = state.ctx.options.on_stack_limit
        self._live_slots: list[tuple[tuple[int, int], ir.Value]] = []  # temporaries of the statements being lowered
        self._free_slots: dict[tuple[int, int], list[ir.Value]] = {}  # (builder, size) -> reusable stack slots

    # ------------------------------------------------------------ structure
    def lower(self) -> ir.Function:
        probe = self.unit.probe
        if probe.predicate is not None:
            cond = self.truth(self.expr(probe.predicate), probe.predicate.type)
            run, skip = self.block("pred_true"), self.block("pred_false")
            self.b.cbranch(cond, run, skip)
            self.b.position_at_end(skip)
            self.b.ret(I64(0))
            self.b.position_at_end(run)
        self.stmt(probe.block)
        if not self.b.block.is_terminated:
            self.b.ret(I64(0))
        self.bb.finish()
        return self.func

    def return_if_null(self, value: ir.Value, name: str) -> None:
        """End the program's run when value is 0 (a context pointer a provider may leave null)."""
        null, go_on = self.block(f"{name}_null"), self.block(f"{name}_present")
        self.b.cbranch(self.b.icmp_unsigned("==", value, I64(0), name=f"{name}_is_null"), null, go_on)
        self.b.position_at_end(null)
        self.b.ret(I64(0))
        self.b.position_at_end(go_on)

    def block(self, name: str) -> ir.Block:
        return self.func.append_basic_block(name)

    def dead_end(self, name: str) -> None:
        """Continue emitting after a terminator, into an unreachable block."""
        self.b.position_at_end(self.block(name))

    # ------------------------------------------------------------ values
    def truth(self, value: ir.Value, t: T.Type | None) -> ir.Value:
        if isinstance(value.type, ir.PointerType):
            return self.b.icmp_unsigned("!=", value, ir.Constant(PTR, None))
        return self.b.icmp_unsigned("!=", value, I64(0), name="cond")

    def slot(self, t: T.Type, name: str, zero: bool = True) -> ir.Value:
        """A stack slot for a memory value of type t, zeroed unless the caller
        fills every byte itself (zero=False)."""
        if t.size > self.on_stack_limit:
            ptr = self.scratch(t.size, name)
            if zero:
                self.bb.memset(ptr, t.size)
            return ptr
        free = self._free_slots.setdefault((id(self.bb), t.size), [])
        ptr = free.pop() if free else self.bb.alloca(t.size, name)
        self._live_slots.append(((id(self.bb), t.size), ptr))
        if zero:
            self.bb.memset(ptr, t.size)
        return ptr

    def const_string(self, text: str, size: int, name: str = "str") -> ir.Value:
        data = text.encode("utf-8", "surrogateescape")[: size - 1]
        ptr = self.slot(T.StringType(size), name)
        for off in range(0, len(data), 8):
            chunk = data[off:off + 8]
            if len(chunk) == 8:
                self.bb.store(ptr, I64(int.from_bytes(chunk, "little")), 8, off)
            else:
                for i, byte in enumerate(chunk):
                    self.bb.store(ptr, I8(byte), 1, off + i)
        return ptr

    def store_value(self, dst: ir.Value, offset: int, value: ir.Value, src_t: T.Type, dst_t: T.Type) -> None:
        """Write a value of type src_t into memory laid out as dst_t."""
        if isinstance(src_t, T.PointerType) and src_t.addrspace == "ctx" and isinstance(dst_t, T.RecordType):
            if src_t.pointee.ctx_offsets is not None:  # `args` as a value, gathered field by field
                for f in src_t.pointee.all_fields():
                    field_value = self.bb.load(value, f.type.size, T.is_signed(f.type), src_t.pointee.ctx_offset(f),
                                               name=f.name)
                    self.bb.store(dst, field_value, f.type.size, offset + f.offset)
                return
            # `args` as a value: the context has the record's layout.
            self.bb.probe_read(self.bb.gep(dst, offset), dst_t.size, value, user=False)
            return
        if isinstance(dst_t, T.TupleType) and isinstance(src_t, T.TupleType):
            for (so, st), (do, dt) in value_exprs.element_pairs(src_t, dst_t):
                elem = self.load_value(self.bb.gep(value, so), st)
                self.store_value(dst, offset + do, elem, st, dt)
            return
        if isinstance(dst_t, T.StringType):
            n = min(src_t.size, dst_t.size)
            self.bb.memcpy(self.bb.gep(dst, offset), value, n)
            if src_t.size > dst_t.size:
                self.bb.store(dst, I8(0), 1, offset + dst_t.size - 1)
            return
        if not dst_t.is_scalar and not isinstance(dst_t, T.BoolType):
            self.bb.memcpy(self.bb.gep(dst, offset), value, min(src_t.size, dst_t.size))
            return
        self.bb.store(dst, value, dst_t.size, offset)

    def load_value(self, ptr: ir.Value, t: T.Type) -> ir.Value:
        """Read a value of type t at ptr: scalars are loaded, memory stays a pointer."""
        if isinstance(t, (T.IntType, T.BoolType)):
            return self.bb.load(ptr, t.size, T.is_signed(t))
        if isinstance(t, T.PointerType):
            return self.bb.load(ptr, 8)
        return ptr

    # ------------------------------------------------------------ maps
    def map_ptr(self, name: str) -> ir.Value:
        return self.bb.map_ref(self.state.map_index[name], name=f"map_{name.lstrip('@') or 'anon'}")

    def map_key(self, node: ast.Map, bucket: ir.Value | None = None) -> ir.Value:
        info = self.state.ctx.maps[node.name]
        key_t = bpf_key_type(info)
        key_name = f"key_{node.name.lstrip('@') or 'anon'}"
        if bucket is None and not node.keys_packed and len(node.keys) == 1:
            (k,) = node.keys
            value = self.expr(k)
            if isinstance(value, ir.AllocaInstr) and (k.type,) == tuple(key_t.elems) and k.type.size == key_t.size:
                return value      # a stack buffer already laid out as the key (`@[comm]`): no copy
            key = self.slot(key_t, key_name)
            self.store_value(key, 0, value, k.type, key_t.elems[0])
            return key
        key = self.slot(key_t, key_name)
        offsets = key_t.offsets()
        if node.keys_packed:
            (k,) = node.keys
            user_keys = T.TupleType(tuple(info.key_types or ()))
            self.store_value(key, 0, self.expr(k), k.type, user_keys)
        else:
            for k, off, kt in zip(node.keys, offsets, key_t.elems):
                self.store_value(key, off, self.expr(k), k.type, kt)
        if bucket is not None:
            self.bb.store(key, bucket, 8, offsets[-1])
        return key

    def map_lookup(self, node: ast.Map, key: ir.Value) -> ir.Value:
        return self.bb.map_lookup_elem(self.map_ptr(node.name), key, name=f"lookup_{node.name.lstrip('@')}")

    def if_else(self, cond: ir.Value, name: str):
        """Branch on `cond` to two new blocks; returns (then, otherwise, done).

        The caller positions the builder in each block in turn and branches
        both to `done`: `then, other, done = self.if_else(c, "x")`."""
        then, other, done = self.block(f"{name}_then"), self.block(f"{name}_else"), self.block(f"{name}_done")
        self.b.cbranch(cond, then, other)
        return then, other, done

    def map_read(self, node: ast.Map) -> ir.Value:
        info = self.state.ctx.maps[node.name]
        t = info.value_type
        key = self.map_key(node)
        if info.aggregation is not None and info.aggregation.readable:
            return agg_read.read_aggregation(self, info, key)
        ptr = self.map_lookup(node, key)
        found = self.b.icmp_unsigned("!=", ptr, ir.Constant(PTR, None), name="found")
        if t.is_scalar or isinstance(t, T.BoolType):
            hit, miss, done = self.if_else(found, "map_read")
            self.b.position_at_end(hit)
            v = self.load_value(ptr, t)
            hit_end = self.b.block
            self.b.branch(done)
            self.b.position_at_end(miss)
            self.missing_key_warning(node)
            miss = self.b.block
            self.b.branch(done)
            self.b.position_at_end(done)
            phi = self.b.phi(I64, name=f"{node.name.lstrip('@') or 'anon'}_val")
            phi.add_incoming(v, hit_end)
            phi.add_incoming(I64(0), miss)
            return phi
        out = self.slot(t, f"{node.name.lstrip('@')}_val")
        hit, miss, done = self.if_else(found, "map_read")
        self.b.position_at_end(hit)
        self.bb.memcpy(out, ptr, t.size)
        self.b.branch(done)
        self.b.position_at_end(miss)
        self.missing_key_warning(node)
        self.b.branch(done)
        self.b.position_at_end(done)
        return out

    def missing_key_warning(self, node: ast.Map) -> None:
        """-k: a read of a key the map lacks warns at run time (the value read is 0)."""
        if self.state.ctx.options.helper_warnings:
            helper_errors.report(self, "map_lookup_elem", node)

    def map_write(self, node: ast.Map, value: ir.Value, value_t: T.Type) -> None:
        info = self.state.ctx.maps[node.name]
        key = self.map_key(node)
        buf = self.slot(info.value_type, f"{node.name.lstrip('@') or 'anon'}_new")
        self.store_value(buf, 0, value, value_t, info.value_type)
        self.map_update(node, key, buf)

    def map_update(self, node: ast.Map, key: ir.Value, value: ir.Value) -> None:
        """map_update_elem; when the map is full, tell user space (which warns once)."""
        ret = self.bb.map_update_elem(self.map_ptr(node.name), key, value)
        # Compare 32 bits: older kernels (6.1) return the int error zero-extended.
        ret32 = self.b.trunc(ret, ir.IntType(32))
        full, ok, done = self.if_else(self.b.icmp_signed("==", ret32, ir.IntType(32)(-E2BIG)), "map_full")
        self.b.position_at_end(full)
        self.emit_event(self.state.map_full_event(node), [])
        self.b.branch(done)
        self.b.position_at_end(ok)
        self.b.branch(done)
        self.b.position_at_end(done)

    def map_update_in_place(self, node: ast.Map, key: ir.Value, update, initial) -> None:
        """Look up key; if present call update(ptr), else insert initial(buf).

        Both callbacks write through a pointer to the value."""
        info = self.state.ctx.maps[node.name]
        ptr = self.map_lookup(node, key)
        found = self.b.icmp_unsigned("!=", ptr, ir.Constant(PTR, None), name="found")
        hit, miss, done = self.if_else(found, "agg")
        self.b.position_at_end(hit)
        update(ptr)
        self.b.branch(done)
        self.b.position_at_end(miss)
        buf = self.slot(info.value_type, "agg_init")
        initial(buf)
        self.map_update(node, key, buf)
        self.b.branch(done)
        self.b.position_at_end(done)

    # ------------------------------------------------------------ events to user space
    def emit_event(self, event: EventSpec, args: list[tuple[ir.Value, T.Type, T.Type]]) -> None:
        """Send [u64 id][args...] through the ring buffer; count it as lost on failure."""
        arg_types = [dst for _, _, dst in args]
        rec_t = T.TupleType((T.U64, *arg_types))
        rec = self.slot(rec_t, f"event_{event.kind}")
        self.bb.store(rec, I64(event.id), 8, 0)
        for (value, src_t, dst_t), off in zip(args, rec_t.offsets()[1:]):
            self.store_value(rec, off, value, src_t, dst_t)
        rb = self.bb.map_ref(self.state.ringbuf, name="ringbuf")
        ret = self.bb.ringbuf_output(rb, rec, rec_t.size)
        failed = self.b.icmp_signed("!=", ret, I64(0), name="event_lost")
        lost, ok, done = self.if_else(failed, "lost")
        self.b.position_at_end(lost)
        zero = self.slot(T.U32, "lost_key")
        counter = self.bb.map_lookup_elem(self.bb.map_ref(self.state.lost, name="lost_map"), zero, "lost_counter")
        have = self.b.icmp_unsigned("!=", counter, ir.Constant(PTR, None))
        inc, skip, fin = self.if_else(have, "lost_inc")
        self.b.position_at_end(inc)
        self.bb.store(counter, self.b.add(self.bb.load(counter), I64(1)))
        self.b.branch(fin)
        self.b.position_at_end(skip)
        self.b.branch(fin)
        self.b.position_at_end(fin)
        self.b.branch(done)
        self.b.position_at_end(ok)
        self.b.branch(done)
        self.b.position_at_end(done)

    # ------------------------------------------------------------ statements
    def stmt(self, node: ast.Stmt) -> None:
        outer, self.at = self.at, node
        _STMT_METHODS[type(node)](self, node)
        self.at = outer

    def stmt_Block(self, node: ast.Block) -> None:
        for s in node.stmts:
            # A statement's temporaries (keys, values, events, strings) are dead once it
            # is done: later statements reuse their stack slots (the BPF stack is 512 bytes).
            mark = len(self._live_slots)
            self.stmt(s)
            for key, ptr in self._live_slots[mark:]:
                self._free_slots[key].append(ptr)
            del self._live_slots[mark:]

    def stmt_ExprStmt(self, node: ast.ExprStmt) -> None:
        self.expr(node.expr)

    def stmt_Assign(self, node: ast.Assign) -> None:
        target = node.target
        value_node = node.value
        if node.op is not None:
            value_node = ast.Binop(node.op, target, node.value, span=node.span, type=target.type)
        if isinstance(target, ast.Map):
            info = self.state.ctx.maps[target.name]
            if info.is_aggregation:
                calls.lower_aggregation(self, target, value_node)  # type: ignore[arg-type]
                return
            self.map_write(target, self.expr(value_node), value_node.type)
        else:
            self.assign_var(target, self.expr(value_node), value_node.type)  # type: ignore[arg-type]

    def var_slot(self, var: ast.Variable) -> ir.Value:
        key = var_key(var)
        t = self.unit.variables[key]
        if key not in self.vars and key in self.shared_vars:
            # Read and written by a for-map callback too: keep it in the scratch map,
            # whose contents the verifier does not track, so the callback's states
            # converge however the variable changes.
            self.vars[key] = self.scratch(max(t.size, 8), f"var_{var.name.lstrip('$')}", zero_once=True)
        if key not in self.vars:
            self.vars[key] = self.slot_uninit(t, f"var_{var.name.lstrip('$')}")
        return self.vars[key]

    def scratch(self, size: int, name: str, zero_once: bool = False) -> ir.Value:
        """A buffer too big for the 512-byte BPF stack (a stack trace, a key
        holding one): a slice of this program's entry of the per-CPU scratch
        map. The address is computed at the start of the body, right after the
        lookup's NULL check (older verifiers refuse any use before it), so it
        dominates every use."""
        size = T.align_up(size, 8)
        if self._scratch is not None and self._scratch_used + size > SCRATCH_PAGE:
            self._scratch = None  # full: the next buffers go in a new entry (its lookup dominates the body too)
        if self._scratch is None:
            self._scratch_used = 0
            entry = self.state.scratch_entry()
            after = self.bb.body  # where the lookup goes once it found the entry
            base = self.bb.mark_aligned(self.bb.guarded_entry_lookup(self.state.scratch, entry, "scratch"))
            self._scratch = (base, self.bb.body, after)
        base, pre, after = self._scratch
        offset = self._scratch_used
        self._scratch_used += size
        self.state.scratch_size(self._scratch_used)
        with self.b.goto_block(pre):  # address arithmetic only: no access before the NULL check
            ptr = self.bb.gep(base, offset, name)
        b = ir.IRBuilder(after)
        b.position_at_start(after)
        if zero_once:  # in chunks LLVM expands inline (merged word stores became a refused memset call)
            self.bb.memset(ptr, T.align_up(size, 8), at=b)
        if self.b.block is after:  # its insertion point moved with what went before it
            self.b.position_at_end(after)
        return ptr

    def slot_uninit(self, t: T.Type, name: str) -> ir.Value:
        if t.size > self.on_stack_limit:
            return self.scratch(t.size, name, zero_once=True)
        ptr = self.bb.alloca(max(t.size, 8), name)
        # Zero it once in the entry block, so reads before writes are defined.
        self.bb.memset(ptr, max(t.size, 8), at=self.bb._entry_b)
        return ptr

    def assign_var(self, var: ast.Variable, value: ir.Value, value_t: T.Type) -> None:
        t = self.unit.variables[var_key(var)]
        slot = self.var_slot(var)
        if t.is_scalar or isinstance(t, T.BoolType):
            self.bb.store(slot, self.wrap(value, t), 8)
        else:
            self.bb.memset(slot, t.size)
            self.store_value(slot, 0, value, value_t, t)

    def wrap(self, value: ir.Value, t: T.Type) -> ir.Value:
        """An i64 value as a variable of type t holds it: `let $x: uint8` wraps at 256."""
        if isinstance(t, T.IntType) and t.bits < 64 and isinstance(value.type, ir.IntType):
            return self.bb.to_i64(self.b.trunc(value, ir.IntType(t.bits)), t.signed)
        return value

    def stmt_VarDecl(self, node: ast.VarDecl) -> None:
        self.var_slot(node.var)
        if node.value is not None:
            self.assign_var(node.var, self.expr(node.value), node.value.type)

    def stmt_If(self, node: ast.If) -> None:
        cond = self.truth(self.expr(node.cond), node.cond.type)
        then, other, done = self.if_else(cond, "if")
        self.b.position_at_end(then)
        self.stmt(node.then)
        if not self.b.block.is_terminated:
            self.b.branch(done)
        self.b.position_at_end(other)
        if node.otherwise is not None:
            self.stmt(node.otherwise)
        if not self.b.block.is_terminated:
            self.b.branch(done)
        self.b.position_at_end(done)

    def stmt_While(self, node: ast.While) -> None:
        head, body, done = self.block("while_cond"), self.block("while_body"), self.block("while_done")
        self.b.branch(head)
        self.b.position_at_end(head)
        self.b.cbranch(self.truth(self.expr(node.cond), node.cond.type), body, done)
        self.b.position_at_end(body)
        self.loops.append(_Loop(head, done))
        self.stmt(node.body)
        self.loops.pop()
        if not self.b.block.is_terminated:
            self.b.branch(head)
        self.b.position_at_end(done)

    def stmt_Unroll(self, node: ast.Unroll) -> None:
        for _ in range(node.count.value):  # type: ignore[attr-defined]
            self.stmt(node.body)

    def stmt_For(self, node: ast.For) -> None:
        if isinstance(node.iterable, ast.Map):
            self.for_map(node)
            return
        self.for_range(node)

    def counted_loop(self, counter: ir.Value, limit: ir.Value, name: str, body, signed: bool = False) -> None:
        """while (*counter < limit) { body(i, step, done); (*counter)++; }: a bounded
        loop the verifier can walk. `body` may branch to `step` (continue) or
        `done` (break)."""
        head, inner, step, done = (self.block(f"{name}_{s}") for s in ("cond", "body", "step", "done"))
        self.b.branch(head)
        self.b.position_at_end(head)
        i = self.bb.load(counter)
        cmp = self.b.icmp_signed if signed else self.b.icmp_unsigned
        self.b.cbranch(cmp("<", i, limit, name="in_range"), inner, done)
        self.b.position_at_end(inner)
        body(i, step, done)
        if not self.b.block.is_terminated:
            self.b.branch(step)
        self.b.position_at_end(step)
        self.bb.store(counter, self.b.add(self.bb.load(counter), I64(1)))
        self.b.branch(head)
        self.b.position_at_end(done)

    # ------------------------------------------------------------ for ($kv : @map): a callback
    # bpf_for_each_map_elem calls a function of this program for each element.
    # The loop body becomes that function; the variables it shares with the
    # probe travel as pointers in the callback context:
    #   [u64 stop][probe context pointer][pointer to each outer variable...]
    # stop is 2 when the body ran `return` (the probe returns too).
    def for_map(self, node: ast.For) -> None:
        map_node = node.iterable
        assert isinstance(map_node, ast.Map)
        cb_ctx, outer = self.callback_context(node)
        callback = self.callback("for", lambda key, value: self.for_map_body(node, key, value), outer)
        self.bb.for_each_map_elem(self.map_ptr(map_node.name), callback, cb_ctx)
        self.after_callback_loop(cb_ctx)

    def callback_context(self, node: ast.For, extra: int = 0) -> tuple[ir.Value, list[str]]:
        """The context of a loop body's callback (see for_map), with `extra`
        u64 fields after the outer variables' pointers."""
        used = {var_key(v) for v in walk(node.body) if isinstance(v, ast.Variable)}
        outer = sorted(k for k in used if k in self.vars)
        cb_ctx = self.bb.alloca(8 * (2 + len(outer) + extra), "for_ctx")
        self.bb.store(cb_ctx, I64(0))
        self.b.store(self.ctx_ptr, self.bb.gep(cb_ctx, 8), align=8)
        for i, key in enumerate(outer):
            self.b.store(self.vars[key], self.bb.gep(cb_ctx, 16 + 8 * i), align=8)
        return cb_ctx, outer

    # for ($i : low..high): as bpftrace, a bpf_loop callback run high - low times
    # (none when high <= low); $i is low + the iteration's index. The verifier
    # checks the body once, whatever the bounds (a map value, a parameter).
    def for_range(self, node: ast.For) -> None:
        rng = node.iterable
        assert isinstance(rng, ast.Range)
        low, high = self.expr(rng.low), self.expr(rng.high)
        cb_ctx, outer = self.callback_context(node, extra=1)
        low_field = 16 + 8 * len(outer)
        self.bb.store(cb_ctx, low, offset=low_field)
        count = self.b.select(self.b.icmp_signed("<", low, high), self.b.sub(high, low), I64(0), name="iterations")
        callback = self.callback("range", lambda index, _unused: self.for_range_body(node, index, low_field),
                                 outer, args=2)
        self.bb.loop(count, callback, cb_ctx)
        self.after_callback_loop(cb_ctx)

    def for_range_body(self, node: ast.For, index: ir.Value, low_field: int) -> None:
        slot = self.var_slot(node.var)
        self.bb.store(slot, self.b.add(self.bb.load(self.callback_ctx, offset=low_field), index))
        self.callback_loop_body(node)

    def callback_loop_body(self, node: ast.For) -> None:
        """A loop callback's body: returns 0 to go on (`continue`), 1 to stop (`break`)."""
        cont, brk = self.block("for_next"), self.block("for_break")
        self.loops.append(_Loop(cont, brk))
        self.stmt(node.body)
        self.loops.pop()
        if not self.b.block.is_terminated:
            self.b.branch(cont)
        self.b.position_at_end(cont)
        self.b.ret(I64(0))
        self.b.position_at_end(brk)
        self.b.ret(I64(1))

    def after_callback_loop(self, cb_ctx: ir.Value) -> None:
        """A `return` in the loop's body (stop field 2) returns from the probe
        (from an enclosing loop's callback too: as a `return` there)."""
        returned, go_on = self.block("for_returned"), self.block("for_done")
        self.b.cbranch(self.b.icmp_unsigned("==", self.bb.load(cb_ctx), I64(2)), returned, go_on)
        self.b.position_at_end(returned)
        if self.callback_ctx is not None:
            self.bb.store(self.callback_ctx, I64(2))  # stop this loop too; the probe returns
            self.b.ret(I64(1))
        else:
            self.b.ret(I64(0))
        self.b.position_at_end(go_on)

    def for_map_body(self, node: ast.For, key: ir.Value, value: ir.Value) -> None:
        info = self.state.ctx.maps[node.iterable.name]  # type: ignore[attr-defined]
        kv_t = node.var.type
        key_t, value_t = kv_t.elems
        slot = self.var_slot(node.var)
        self.store_value(slot, kv_t.offsets()[0], self.load_value(key, key_t), key_t, key_t)
        if info.aggregation is not None and info.aggregation.readable:  # the CPUs' values combined
            self.store_value(slot, kv_t.offsets()[1], agg_read.read_aggregation(self, info, key), value_t, value_t)
        else:
            self.store_value(slot, kv_t.offsets()[1], self.load_value(value, info.value_type), info.value_type,
                             value_t)
        self.callback_loop_body(node)

    def callback(self, what: str, body, outer: list[str], args: int = 4) -> ir.Function:
        """A bpf_for_each_map_elem callback `long f(map, key, value, ctx)` (or a
        bpf_loop one, `long f(u64 index, ctx)`: args=2) in this program's section,
        its body lowered by body(key, value) (body(index, None)) with this
        lowering's state switched to the new function."""
        fnty = ir.FunctionType(I64, [PTR, PTR, PTR, PTR] if args == 4 else [I64, PTR])
        func = ir.Function(self.state.module, fnty, f"{self.func.name}_{what}{len(self.state.module.functions)}")
        func.linkage = "internal"
        func.section = self.func.section
        saved = (self.func, self.bb, self.b, self.ctx_ptr, self.vars, self.loops, self._scratch,
                 self._scratch_used, self.callback_ctx)
        self.func, self.bb = func, BpfBuilder(self.state.module, func)
        helper_errors.install(self)
        self.b, self.loops, self._scratch, self._scratch_used = self.bb.b, [], None, 0
        if args == 4:
            _map, key, value, cb_ctx = func.args
        else:
            (key, cb_ctx), value = func.args, None
        self.callback_ctx = cb_ctx
        self.ctx_ptr = self.b.load(self.bb.gep(cb_ctx, 8), typ=PTR, align=8)
        self.vars = {k: self.b.load(self.bb.gep(cb_ctx, 16 + 8 * i), typ=PTR, align=8) for i, k in enumerate(outer)}
        try:
            body(key, value)
            if not self.b.block.is_terminated:
                self.b.ret(I64(0))
            self.bb.finish()
        finally:
            (self.func, self.bb, self.b, self.ctx_ptr, self.vars, self.loops, self._scratch,
             self._scratch_used, self.callback_ctx) = saved
        return func

    def stmt_Jump(self, node: ast.Jump) -> None:
        if node.kind == "return" and self.callback_ctx is not None:
            self.bb.store(self.callback_ctx, I64(2))  # stop iterating; the probe returns
            self.b.ret(I64(1))
        elif node.kind == "return":
            self.b.ret(I64(0))
        elif node.kind == "break":
            self.b.branch(self.loops[-1].brk)
        else:
            self.b.branch(self.loops[-1].cont)
        self.dead_end(f"after_{node.kind}")

    # ------------------------------------------------------------ expressions
    def expr(self, node: ast.Expr) -> ir.Value:
        outer, self.at = self.at, node
        value = _EXPR_METHODS[type(node)](self, node)
        self.at = outer
        return value

    def expr_Integer(self, node: ast.Integer) -> ir.Value:
        return I64(node.value & (2**64 - 1))

    def expr_Boolean(self, node: ast.Boolean) -> ir.Value:
        return I64(int(node.value))

    def expr_String(self, node: ast.String) -> ir.Value:
        return self.const_string(node.value, node.type.size)

    def expr_Builtin(self, node: ast.Builtin) -> ir.Value:
        if node.name == "args" and isinstance(node.type, T.PointerType):
            return self.ctx_ptr
        cv = self.unit.provider.variable(node.name, self.spec)
        if cv is not None:
            return load_context_var(self, cv, node.name)
        return calls.VARIABLES[node.name](self, node)

    def expr_Variable(self, node: ast.Variable) -> ir.Value:
        slot = self.var_slot(node)
        t = self.unit.variables[var_key(node)]
        if t.is_scalar or isinstance(t, T.BoolType):
            return self.bb.load(slot, 8, name=node.name.lstrip("$"))
        return slot

    def expr_Map(self, node: ast.Map) -> ir.Value:
        return self.map_read(node)

    def expr_Call(self, node: ast.Call) -> ir.Value:
        return calls.FUNCTIONS[node.name](self, node)

    def expr_Binop(self, node: ast.Binop) -> ir.Value:
        op = node.op
        if op in ("&&", "||"):
            return self.logical(node)
        lt, rt = node.left.type, node.right.type
        if isinstance(lt, T.StringType):
            eq = calls.string_equal(self, self.expr(node.left), lt, self.expr(node.right), rt)
            return eq if op == "==" else self.b.xor(eq, I64(1))
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.type, T.PointerType):
            return operators.pointer_arith(self, node, left, right)
        if isinstance(lt, (T.ArrayType, T.BufferType)):
            return operators.array_equal(self, node, left, right)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            signed = T.comparison_signed(lt, rt, _flexible(node.left), _flexible(node.right))
            cmp = (self.b.icmp_signed if signed else self.b.icmp_unsigned)(op, left, right, name="cmp")
            return self.bb.bool_i64(cmp)
        if op in ("/", "%"):  # unsigned even for signed operands, as bpftrace (literals are folded)
            divide = self.b.udiv if op == "/" else self.b.urem
            return operators.checked_divide(self, node, left, right,
                                            lambda l, r: divide(l, r, name="div" if op == "/" else "mod"))
        ops = {"+": self.b.add, "-": self.b.sub, "*": self.b.mul, "&": self.b.and_, "|": self.b.or_,
               "^": self.b.xor, "<<": self.b.shl, ">>": self.b.lshr}  # `>>` is logical, as bpftrace
        return ops[op](left, right)

    def logical(self, node: ast.Binop) -> ir.Value:
        result = self.slot_uninit(T.U64, "logical")
        left = self.truth(self.expr(node.left), node.left.type)
        rhs, short, done = self.block("rhs"), self.block("short"), self.block("logical_done")
        if node.op == "&&":
            self.b.cbranch(left, rhs, short)
            short_value = 0
        else:
            self.b.cbranch(left, short, rhs)
            short_value = 1
        self.b.position_at_end(short)
        self.bb.store(result, I64(short_value))
        self.b.branch(done)
        self.b.position_at_end(rhs)
        right = self.truth(self.expr(node.right), node.right.type)
        self.bb.store(result, self.bb.bool_i64(right))
        self.b.branch(done)
        self.b.position_at_end(done)
        return self.bb.load(result)

    def expr_Unop(self, node: ast.Unop) -> ir.Value:
        if node.op == "*":
            return memory.deref(self, node)
        if node.op == "&":
            return self.b.ptrtoint(self.var_slot(node.operand), I64, name="addr")
        value = self.expr(node.operand)
        if node.op == "!":
            return self.bb.bool_i64(self.b.icmp_unsigned("==", value, I64(0)))
        if node.op == "-":
            return self.b.neg(value)
        if node.op == "~":
            return self.b.not_(value)
        raise NotImplementedError(node.op)

    def expr_Increment(self, node: ast.Increment) -> ir.Value:
        step = type_rules.increment_step(node.type)
        delta = I64(step if node.op == "++" else -step)
        target = node.target
        if isinstance(target, ast.Variable):
            slot = self.var_slot(target)
            old = self.bb.load(slot)
            new = self.wrap(self.b.add(old, delta), self.unit.variables[var_key(target)])
            self.bb.store(slot, new)
            return new if node.prefix else old
        assert isinstance(target, ast.Map)
        old = self.map_read(target)
        new = self.b.add(old, delta)
        self.map_write(target, new, T.S64)
        return new if node.prefix else old

    def expr_Ternary(self, node: ast.Ternary) -> ir.Value:
        t = node.type
        cond = self.truth(self.expr(node.cond), node.cond.type)
        result = self.slot_uninit(t, "ternary")
        then, other, done = self.if_else(cond, "ternary")
        for block, branch in ((then, node.then), (other, node.otherwise)):
            self.b.position_at_end(block)
            value = self.expr(branch)
            if t.is_scalar or isinstance(t, T.BoolType):
                self.bb.store(result, value)
            else:
                self.bb.memset(result, t.size)
                self.store_value(result, 0, value, branch.type, t)
            self.b.branch(done)
        self.b.position_at_end(done)
        return self.bb.load(result) if t.is_scalar or isinstance(t, T.BoolType) else result

    def expr_Cast(self, node: ast.Cast) -> ir.Value:
        value = self.expr(node.operand)
        t = node.type
        if isinstance(t, T.ArrayType):
            return operators.cast_to_array(self, node, value)
        if isinstance(t, T.StringType):
            return operators.cast_to_wider_string(self, node, value)
        if isinstance(node.operand.type, T.ArrayType):
            return operators.cast_from_array(self, node, value)
        if isinstance(t, T.IntType) and t.bits < 64:
            narrow = self.b.trunc(value, ir.IntType(t.bits))
            return self.bb.to_i64(narrow, t.signed)
        if isinstance(t, T.BoolType):
            return self.bb.bool_i64(self.b.icmp_unsigned("!=", value, I64(0)))
        if isinstance(t, T.PointerType):
            return operators.cast_to_pointer(self, node, value)
        return value

    def expr_FieldAccess(self, node: ast.FieldAccess) -> ir.Value:
        if node.tuple_index is not None:  # a record's field
            return value_exprs.element(self, node.operand, node.tuple_index)
        base_t = node.operand.type
        in_ctx = isinstance(base_t, T.PointerType) and base_t.addrspace == "ctx"
        if not in_ctx:
            return memory.field_access(self, node)
        base = self.expr(node.operand)  # the context: fields are loaded directly
        # Attach points of one probe may lay out `args` differently (sys_enter_open vs
        # sys_enter_openat): such a probe is lowered once per attach point, so use its own.
        own = self.unit.provider.args_type(self.spec) if isinstance(node.operand, ast.Builtin) else None
        f = (own.field(node.field_name) if own is not None else None) or base_t.pointee.field(node.field_name)
        if f.data_loc:
            loc = self.bb.load(base, 4, False, f.offset, name=f"{f.name}_loc")
            data = self.bb.gep(base, self.b.and_(loc, I64(0xFFFF)))
            out = self.slot(f.type, f.name)
            self.bb.probe_read_str(out, f.type.size, data, user=False)
            return out
        record = own if own is not None and own.field(node.field_name) is not None else base_t.pointee
        if f.type.is_scalar:
            value = self.bb.load(base, f.type.size, T.is_signed(f.type), record.ctx_offset(f), name=f.name)
            if self.unit.provider.ctx_null_ends_run and isinstance(f.type, T.PointerType):
                self.return_if_null(value, f.name)
            return value
        # Arrays and strings in the context are copied out with probe_read (as bpftrace
        # does): byte loads through ctx+offset are refused by the verifier once LLVM
        # folds the offset into the pointer ("dereference of modified ctx ptr").
        out = self.slot(f.type, f.name)
        self.bb.probe_read(out, f.type.size, self.bb.gep(base, f.offset), user=False)
        return out

    def expr_Index(self, node: ast.Index) -> ir.Value:
        if node.tuple_element is not None:
            return operators.tuple_element(self, node)
        return memory.index(self, node)

    def expr_Sizeof(self, node: ast.Sizeof) -> ir.Value:
        return I64(node.value)

    expr_Offsetof = expr_Sizeof

    def expr_Tuple(self, node: ast.Tuple) -> ir.Value:
        return self.build_tuple(node.elems, node.type, "tuple")

    def build_tuple(self, values: list[ast.Expr], t: T.TupleType, name: str) -> ir.Value:
        """A tuple or record value: each element stored in t's layout."""
        out = self.slot(t, name)
        for e, off, et in zip(values, t.offsets(), t.elems):
            self.store_value(out, off, self.expr(e), e.type, et)
        return out

    def expr_TupleIndex(self, node: ast.TupleIndex) -> ir.Value:
        t = node.operand.type
        base = self.expr(node.operand)
        return self.load_value(self.bb.gep(base, t.offsets()[node.index]), t.elems[node.index])

    expr_BlockExpr = value_exprs.lower_block_expr
    expr_IfExpr = value_exprs.lower_if_expr
    expr_Record = value_exprs.lower_record
    stmt_Discard = value_exprs.lower_discard


_EXPR_METHODS = dispatch_table(ProbeLowering, "expr_")
_STMT_METHODS = dispatch_table(ProbeLowering, "stmt_")
