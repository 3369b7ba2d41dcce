"""Type checking: give every expression a type, every map and variable one
consistent type, and report misuse in bpftrace's words.

Map types are global and may be used before (in program order) the probe
that assigns them, so the checker runs twice: the first round only learns
map types, the second reports diagnostics against the learned types.
"""

from __future__ import annotations

import dataclasses

from pytrace.lang import ast, builtins, builtins_memory, ktypes, typenames
from pytrace.lang import types as T
from pytrace.lang.context import CompileContext, MapInfo, ProbeUnit
from pytrace.lang.diagnostics import Diagnostics
from pytrace.lang.passes import agg_reads, type_rules, value_exprs
from pytrace.lang.probes.base import ProbeError
from pytrace.lang.visitor import dispatch_table

COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
# Builtins whose type comes from kernel BTF.
_BTF_TYPED = {"curtask": ktypes.task_struct_ptr}
_POINTEE_NAMES = {"curtask": "struct task_struct"}  # a script's own definition of it wins, as in bpftrace
# The element type of `e[i]` by the type of e.
_INDEXED = {
    T.ArrayType: lambda t: t.elem,
    T.StringType: lambda t: T.S8,
    T.PointerType: lambda t: t.pointee,
}
LOGICAL = {"&&", "||"}


_storage_type = T.storage_type


def _merge(old: T.Type, new: T.Type) -> T.Type | None:
    """The common type of two stored values, or None when they conflict."""
    if old == new:
        return old
    if isinstance(old, T.IntType) and isinstance(new, T.IntType):
        return T.S64 if (old.signed or new.signed) else T.U64
    if isinstance(old, T.StringType) and isinstance(new, T.StringType):
        return T.StringType(max(old.length, new.length))
    if isinstance(old, T.BufferType) and isinstance(new, T.BufferType):  # the length travels with the bytes
        return T.BufferType(max(old.length, new.length))
    if isinstance(old, T.TupleType) and isinstance(new, T.TupleType) and (old.names or new.names):
        return value_exprs.merge_records(old, new, _merge)
    if isinstance(old, T.TupleType) and isinstance(new, T.TupleType) and len(old.elems) == len(new.elems):
        elems = [_merge(a, b) for a, b in zip(old.elems, new.elems)]
        return None if None in elems else T.TupleType(tuple(elems))  # type: ignore[arg-type]
    if isinstance(old, T.BoolType) and isinstance(new, T.BoolType):
        return old
    if isinstance(old, T.PointerType) and isinstance(new, T.PointerType):
        return old if old.addrspace == new.addrspace else T.PointerType(old.pointee, "any")
    return None


_FORMAT_KINDS = {T.IntType: "int", T.EnumType: "int", T.BoolType: "bool", T.PointerType: "ptr", T.StringType: "str",
                 T.BufferType: "buffer", T.VoidType: "none", T.TupleType: "tuple", T.RecordType: "record",
                 T.ArrayType: "array"}


def _format_kind(t: T.Type) -> str:
    """How lang.format_string classifies an argument's type."""
    return _FORMAT_KINDS.get(type(t), "other")


def _literal_bits(value: int) -> int:
    """The smallest signed integer holding a literal, as bpftrace types literals."""
    return next((b for b in (8, 16, 32) if value < 1 << (b - 1)), 64)


def _int_shape(node: ast.Expr, t: T.Type, other: T.Type) -> tuple[int, bool]:
    """(bits, signed) of an arithmetic operand; a non-negative literal is
    sign-flexible: it takes the other operand's sign."""
    if isinstance(node, ast.Integer) and node.value >= 0 and node.value < 1 << 63:
        return _literal_bits(node.value), T.is_signed(other)
    if isinstance(t, T.IntType):
        return t.bits, t.signed
    return 64, False


class TypeChecker:
    def __init__(self, ctx: CompileContext, diags: Diagnostics, final: bool) -> None:
        self.ctx = ctx
        self.diags = diags
        self.final = final  # the reporting round: also records formats
        self.max_strlen = ctx.options.max_strlen
        self.unit: ProbeUnit | None = None
        self.variables: dict[str, T.Type] = {}  # by variable key (see var_key)
        self.scopes: list[dict[str, str]] = [{}]  # name -> key, innermost block last
        self.var_counts: dict[str, int] = {}
        self.typed_vars: set[str] = set()  # declared with a type: `let $x: uint8`
        self.untyped_vars: set[str] = set()  # declared without a type or value: `let $x;`
        self.literal_vars: set[str] = set()  # holding only non-negative literals so far
        self.literal_maps: set[str] = set()  # the same for maps
        self.key_shown: dict[str, str] = {}  # map -> its keys' type as bpftrace names it in diagnostics

    # ------------------------------------------------------------ reporting
    def error(self, msg: str, node: ast.Node | None, hints: list[str] | None = None) -> None:
        self.diags.error(msg, node.span if node is not None else None, hints)

    def warning(self, msg: str, node: ast.Node | None) -> None:
        self.diags.warning(msg, node.span if node is not None else None)

    # ------------------------------------------------------------ helpers for builtins
    def expect_int(self, fname: str, node: ast.Expr) -> bool:
        t = self.expr(node)
        if not T.is_integerish(t):
            self.error(f"{fname}() only supports integer arguments ({T.describe(t)} provided)", node)
            return False
        return True

    def const_int(self, node: ast.Expr) -> int | None:
        if isinstance(node, ast.Integer):
            return node.value
        if isinstance(node, ast.Unop) and node.op == "-" and isinstance(node.operand, ast.Integer):
            return -node.operand.value
        return None

    def expect_const(self, fname: str, node: ast.Expr, which: str) -> int | None:
        self.expr(node)
        value = self.const_int(node)
        if value is None:
            self.error(f"{fname}() {which} must be an integer literal", node)
        return value

    def expect_map(self, fname: str, node: ast.Expr, whole: bool) -> MapInfo | None:
        if not isinstance(node, ast.Map):
            self.error(f"{fname}() expects a map argument", node)
            return None
        info = self.ctx.maps.get(node.name)
        if info is None:
            self.undefined_map(node)
            return None
        if not whole:
            self.map_keys(node, info, assign=False)
        elif node.keys:
            self.error(f"{fname}() expects a map with no keys, e.g. {fname}({node.name})", node)
        node.type = info.value_type
        return info

    def map_is_scalar(self, node: ast.Map) -> bool:
        info = self.ctx.maps.get(node.name)
        return info is not None and not info.key_types

    def undefined_map(self, node: ast.Map) -> None:
        if self.final:
            self.error(f"Undefined map: {node.name}", node)

    def check_format_call(self, call: ast.Call) -> None:
        from pytrace.lang import format_string

        fmt_node = call.args[0]
        arg_types = [self.expr(a) for a in call.args[1:]]
        if not isinstance(fmt_node, ast.String):
            self.error(f"{call.name}() expects a string literal as the format", fmt_node)
            return
        segments, err = format_string.parse_format(fmt_node.value)
        if err is not None:
            self.error(f"{call.name}: {err[0]}", fmt_node)
            return
        problem = format_string.check_args(segments, [(_format_kind(t), T.describe(t)) for t in arg_types])
        if problem is not None:
            self.error(f"{call.name}: {problem}", call)
            return
        if self.final:
            call.format = self.ctx.add_format(call.name, fmt_node.value,
                                              [_storage_type(t) for t in arg_types], segments)

    # ------------------------------------------------------------ maps
    def map_keys(self, node: ast.Map, info: MapInfo | None, assign: bool) -> list[T.Type] | None:
        key_types = []
        for k in node.keys:
            t = self.expr(k)
            if isinstance(t, T.AggType):
                self.error(f"Value '{t.name}' cannot be used as a map key.", node)
                return None
            if isinstance(t, T.VoidType) or t is None:
                self.error(f"Invalid map key type: {T.describe(t)}", k)
                return None
            key_types.append(_storage_type(t))
        shown = _keys_shown(node.keys)
        if assign:
            self.key_shown.setdefault(node.name, shown)
        if info is None:
            return key_types or None
        have = info.key_types or []
        if _is_packed_key(key_types, have):  # `@m[$t]` with $t = (a, b) names `@m[a, b]`
            key_types = list(key_types[0].elems)
            node.keys_packed = True
        merged = [_merge(old, new) for old, new in zip(have, key_types)]
        if len(have) != len(key_types) or None in merged:
            if self.final:
                expected = self.key_shown.get(node.name) or _types_shown(have)
                self.error(f"Argument mismatch for {node.name}: trying to access with arguments: "
                           f"'{shown}' when map expects arguments: '{expected}'", node)
            return None
        if assign:
            info.key_types = merged or None
        return merged

    def assign_map(self, target: ast.Map, value: ast.Expr, stmt: ast.Node) -> None:
        info = self.ctx.maps.get(target.name)
        fn = builtins.function(value.name) if isinstance(value, ast.Call) else None
        if fn is not None and fn.aggregation:
            vt = self.expr(value)
            kind = fn.name
        else:
            vt = self.expr(value)
            kind = "scalar"
            if agg_reads.refuse_copy(self, target, value, stmt):
                return
            if isinstance(vt, T.VoidType):
                self.error("Expression of type 'none' cannot be assigned to a map", value)
                return
            if isinstance(vt, T.AggType):
                self.error(f"Map value '{vt.name}' cannot be assigned from one map to another. The function "
                           f"that returns this type must be called directly e.g. "
                           f"`{target.name} = {builtins.AGGREGATE_HINTS[vt.func]};`.", stmt)
                return
            vt = _storage_type(vt)
        if info is None:
            keys = self.map_keys(target, None, assign=True)
            info = MapInfo(target.name, kind, vt, keys, target.span)
            self.ctx.maps[target.name] = info
            if type_rules.flexible_literal(value):
                self.literal_maps.add(target.name)
        else:
            self.map_keys(target, info, assign=True)
            if isinstance(info.value_type, T.IntType) and isinstance(vt, T.IntType) and info.kind == kind:
                info.value_type, vt = type_rules.int_assignment(info.value_type, vt, value,
                                                                target.name in self.literal_maps)
            if not type_rules.flexible_literal(value):
                self.literal_maps.discard(target.name)
            merged = _merge(info.value_type, vt) if info.kind == kind else None
            if isinstance(vt, T.AggType) and info.kind == kind:
                merged = vt if vt.params == info.value_type.params else None
            if merged is None:
                if self.final:
                    self.error(f"Type mismatch for {target.name}: trying to assign value of type "
                               f"'{T.describe(vt)}' when map already has a type '{T.describe(info.value_type)}'",
                               stmt)
                return
            info.value_type = merged
        target.type = info.value_type

    # ------------------------------------------------------------ expressions
    def expr(self, node: ast.Expr) -> T.Type:
        node.type = _EXPR_METHODS[type(node)](self, node)
        return node.type

    def expr_Integer(self, node: ast.Integer) -> T.Type:
        return type_rules.literal_type(self.ctx, node)

    def expr_String(self, node: ast.String) -> T.Type:
        return T.StringType(len(node.value.encode("utf-8", "surrogateescape")) + 1)

    def expr_Boolean(self, node: ast.Boolean) -> T.Type:
        return T.BOOL

    def expr_Identifier(self, node: ast.Identifier) -> T.Type:
        return T.VOID  # already reported by the resolve pass

    def expr_Builtin(self, node: ast.Builtin) -> T.Type:
        unit = self.unit
        assert unit is not None
        spec = unit.specs[0]
        if node.name == "args":
            try:
                record = unit.provider.args_type(spec)
            except ProbeError as e:  # e.g. a uprobe target without DWARF
                self.error(str(e), node)
                return T.U64
            if record is not None:
                return T.PointerType(record, "ctx")
        cv = unit.provider.variable(node.name, spec)
        if cv is not None:
            return cv.type
        if node.name == "probe":  # never cut: user-space probe names hold whole paths
            return T.StringType(max(64, 1 + max(len(s.name) for s in unit.specs)))
        var = builtins.variable(node.name)
        if var is None or var.probes != builtins.ALL_PROBES:
            self.error(f"The {node.name} builtin cannot be used with {unit.provider.name} probes", node)
            return T.U64
        if isinstance(var.type, T.StackType):  # bare kstack/ustack: in the config's stack_mode
            mode = self.ctx.options.stack_mode
            if var.type.kernel and mode == "build_id":
                self.warning("'build_id' stack mode can only be used for ustack. Falling back to 'raw' mode.", node)
                mode = "raw"
            return dataclasses.replace(var.type, mode=mode)
        typed = _BTF_TYPED.get(node.name)  # (vmlinux BTF is read only for a builtin typed from it)
        if typed is None:
            return var.type
        script_type = self.ctx.c_types.structs.get(_POINTEE_NAMES.get(node.name, ""))
        if script_type is not None:
            return T.PointerType(script_type)
        return typed(self.ctx.kernel.btf())

    def expr_Variable(self, node: ast.Variable) -> T.Type:
        key = self.var_key(node)
        t = self.variables.get(key)
        if t is None and key in self.untyped_vars:  # `let $x;` read before any assignment
            t = self.variables[key] = T.S64
        if t is None:
            self.error(f"Undefined or undeclared variable: {node.name}", node)
            return T.S64
        return t

    def expr_Map(self, node: ast.Map) -> T.Type:
        info = self.ctx.maps.get(node.name)
        if info is None:
            self.undefined_map(node)
            for k in node.keys:
                self.expr(k)
            return T.S64
        self.map_keys(node, info, assign=False)
        return agg_reads.read_type(info)

    def expr_Call(self, node: ast.Call) -> T.Type:
        fn = builtins.function(node.name)
        if fn is None:
            return T.VOID  # reported by the resolve pass
        if not fn.min_args <= len(node.args) <= fn.max_args:
            return T.VOID
        return fn.check(node, self)

    def expr_Binop(self, node: ast.Binop) -> T.Type:
        lt, rt = self.expr(node.left), self.expr(node.right)
        if isinstance(lt, T.AggType) or isinstance(rt, T.AggType):
            agg_reads.binop_error(self, node, lt, rt)
            return T.S64
        if node.op in LOGICAL:
            for side, t in ((node.left, lt), (node.right, rt)):
                if not T.is_integerish(t):
                    self.error(f"The {node.op} operator can not be used on expressions of type "
                               f"'{T.describe(t)}'", side)
            return T.BOOL
        if isinstance(lt, T.PointerType) or isinstance(rt, T.PointerType):
            return type_rules.pointer_binop(self, node, lt, rt)
        if isinstance(lt, T.ArrayType) and isinstance(rt, T.ArrayType):
            return type_rules.array_binop(self, node, lt, rt)
        if isinstance(lt, T.BufferType) or isinstance(rt, T.BufferType):
            return type_rules.buffer_binop(self, node, lt, rt)
        if isinstance(lt, T.StringType) or isinstance(rt, T.StringType):
            if isinstance(lt, T.StringType) and isinstance(rt, T.StringType) and node.op in ("==", "!="):
                return T.BOOL
            if node.op in COMPARISONS:
                self.error(f"Type mismatch for '{node.op}': comparing {T.describe(lt)} with {T.describe(rt)}",
                           node)
            else:
                self.error(f"The {node.op} operator can not be used on expressions of types "
                           f"{T.describe(lt)}, {T.describe(rt)}", node)
            return T.S64
        for side, t in ((node.left, lt), (node.right, rt)):
            if not T.is_integerish(t):
                self.error(f"The {node.op} operator can not be used on expressions of type "
                           f"'{T.describe(t)}'", side)
                return T.S64
        if node.op in COMPARISONS:
            return T.BOOL
        if node.op in ("/", "%") and isinstance(node.right, ast.Integer) and node.right.value == 0:
            self.error("Divide or modulo by zero", node.right)
        return self.int_binop(node, lt, rt)

    def int_binop(self, node: ast.Binop, lt: T.Type, rt: T.Type) -> T.Type:
        """bpftrace's integer promotion: a non-negative literal takes the sign
        of the other side; the result is 64-bit, signed when either side is
        (for shifts: the left side) and always for subtraction. Division and
        modulo of differently typed operands where one is signed warn."""
        left, right = _int_shape(node.left, lt, rt), _int_shape(node.right, rt, lt)
        if node.op in ("/", "%") and left != right and (left[1] or right[1]):
            self.warning(f"signed operands for '{node.op}' can lead to undefined behavior "
                         f"(cast to unsigned to silence warning)", node)
        signed = left[1] if node.op in ("<<", ">>") else (left[1] or right[1] or node.op == "-")
        return T.S64 if signed else T.U64

    def expr_Unop(self, node: ast.Unop) -> T.Type:
        if node.op == "&":
            return self.address_of(node)
        t = self.expr(node.operand)
        if node.op == "!":
            if not T.is_integerish(t):
                self.error(f"The ! operator can not be used on expressions of type '{T.describe(t)}'", node)
            return T.BOOL
        if node.op == "*":
            if isinstance(t, T.PointerType):
                return t.pointee if t.pointee is not None and t.pointee.size else T.U64
            if isinstance(t, T.IntType):  # bpftrace: an integer is a kernel address of a uint64
                return T.U64
            self.error(f"Can not dereference type '{T.describe(t)}'", node)
            return T.U64
        if not T.is_integerish(t):
            self.error(f"The {node.op} operator can not be used on expressions of type '{T.describe(t)}'", node)
            return T.S64
        return type_rules.unop_int(t)

    def address_of(self, node: ast.Unop) -> T.Type:
        """`&$var`: the address of a scratch variable's stack slot."""
        if not isinstance(node.operand, ast.Variable):
            self.expr(node.operand)
            self.error("The & operator can only take the address of a scratch variable", node)
            return T.U64
        return T.PointerType(self.expr(node.operand), "kernel")

    def expr_Increment(self, node: ast.Increment) -> T.Type:
        target = node.target
        if isinstance(target, ast.Variable):
            t = self.variables.get(self.var_key(target))
            if t is None:
                self.error(f"Undefined or undeclared variable: {target.name}", target)
                return T.S64
            if not type_rules.can_increment(t):
                self.error(f"The {node.op} operator can only be used on integers", node)
            key = self.var_key(target)
            if isinstance(t, T.IntType) and key not in self.typed_vars:  # `$i++` makes $i 64 bits wide
                t = self.variables[key] = _merge(t, type_rules.increment_result(t, node.op))
                self.literal_vars.discard(key)
            target.type = t
            return t
        if isinstance(target, ast.Map):
            info = self.ctx.maps.get(target.name)
            if info is None:
                keys = self.map_keys(target, None, assign=True)
                info = MapInfo(target.name, "scalar", T.S64, keys, target.span)
                self.ctx.maps[target.name] = info
            else:
                self.map_keys(target, info, assign=True)
                if info.is_aggregation or not type_rules.can_increment(info.value_type):
                    self.error(f"The {node.op} operator can only be used on maps holding integers", node)
            target.type = info.value_type
            return info.value_type
        self.error(f"The {node.op} operator must be applied to a map or a variable", node)
        return T.S64

    def expr_Ternary(self, node: ast.Ternary) -> T.Type:
        ct = self.expr(node.cond)
        if not T.is_integerish(ct):
            self.error(f"Invalid condition in ternary: {T.describe(ct)}", node.cond)
        a, b = self.expr(node.then), self.expr(node.otherwise)
        merged = _merge(_storage_type(a), _storage_type(b))
        if merged is None:
            self.error(f"Ternary operator must return the same type: have '{T.describe(a)}' "
                       f"and '{T.describe(b)}'", node)
            return a
        return merged

    def resolve_type(self, tn: ast.TypeName, addrspace: str = "kernel") -> T.Type | None:
        """The type a TypeName names, or None after reporting it unknown."""
        if tn.of is not None:
            return value_exprs.typeof_type(self, tn, addrspace)
        unit = self.unit
        probe_types = (lambda name: unit.provider.named_type(name, unit.specs[0])) if unit is not None else None
        t = typenames.resolve(tn.name, tn.pointer, self.ctx.c_types, addrspace, self.ctx.kernel, probe_types)
        if t is None:
            self.error(f"Cannot resolve unknown type \"{tn.name}\"", tn)
        return t

    def default_addrspace(self) -> str:
        """Where a pointer made from an integer points: user memory in uprobes."""
        return "user" if self.unit is not None and self.unit.provider.addrspace == "user" else "kernel"

    def expr_Cast(self, node: ast.Cast) -> T.Type:
        t = self.expr(node.operand)
        space = t.addrspace if isinstance(t, T.PointerType) and t.addrspace != "ctx" else self.default_addrspace()
        target = self.resolve_type(node.to, space)
        if target is None:
            return T.U64
        return type_rules.cast(self, node, t, target)

    def expr_FieldAccess(self, node: ast.FieldAccess) -> T.Type:
        t = self.expr(node.operand)
        if isinstance(t, T.TupleType) and not node.arrow:
            return value_exprs.record_field(self, node, t)
        record = t
        while isinstance(record, T.PointerType):  # `.` and `->` both follow pointers
            record = record.pointee
        if not isinstance(record, T.RecordType):
            self.error(f"Can not access field '{node.field_name}' on expression of type '{T.describe(t)}'",
                       node)
            return T.U64
        f = record.field(node.field_name)
        if f is None:
            if isinstance(node.operand, ast.Builtin) and node.operand.name == "args":
                self.error(f"Can't find a field {node.field_name}", node,
                           [f"Fields: {', '.join(record.field_names())}"] if record.field_names() else [])
            else:
                self.error(f"Struct/union of type '{record.name}' does not contain a field named "
                           f"'{node.field_name}'", node)
            return T.U64
        return type_rules.field_type(f.type, t)

    def expr_Index(self, node: ast.Index) -> T.Type:
        t = self.expr(node.operand)
        it = self.expr(node.index)
        if isinstance(t, T.TupleType):
            return type_rules.tuple_index(self, node, t)
        if isinstance(t, T.PointerType) and (t.pointee is None or t.pointee.size == 0):
            self.error("The array index operator [] cannot be used on a pointer to an unsized type (void *).",
                       node)
            return T.U64
        elem = _INDEXED.get(type(t), lambda t: None)(t)
        if elem is None:
            self.error(f"The array index operator [] can not be used on expressions of type "
                       f"'{T.describe(t)}'", node)
            return T.U64
        count = t.count if isinstance(t, T.ArrayType) else t.size if isinstance(t, T.StringType) else 0
        if isinstance(node.index, ast.Integer):
            if count and node.index.value >= count:
                self.error(f"the index {node.index.value} is out of bounds for array of size {count}", node)
        elif not isinstance(it, T.IntType):
            self.error(f"The array index operator [] only accepts non-negative integer indices. "
                       f"Got: {T.describe(it)}", node)
        return elem

    def sized_type(self, arg: ast.Node) -> T.Type | None:
        """The type named by a sizeof/offsetof argument: a TypeName or an expression."""
        return value_exprs.type_context(self, arg)

    def expr_TypeName(self, node: ast.TypeName) -> T.Type:
        """`typeof(...)` where a value is expected (it names a type)."""
        self.error(builtins_memory.TYPEOF_CONTEXTS, node)
        return T.VOID

    def expr_Sizeof(self, node: ast.Sizeof) -> T.Type:
        t = self.sized_type(node.arg)
        node.value = t.size if t is not None else 0
        return T.U64

    def expr_Offsetof(self, node: ast.Offsetof) -> T.Type:
        t = self.sized_type(node.of)
        offset = 0
        for name in node.field_path:
            if t is None:
                break
            if not isinstance(t, T.RecordType):
                self.error(f"'{T.describe(t)}' is not a C type.", node)
                break
            f = t.field(name)
            if f is None:
                self.error(f"'{t.name}' has no field named '{name}'", node)
                break
            offset += f.offset
            t = f.type
        node.value = offset
        return T.U64

    def expr_Tuple(self, node: ast.Tuple) -> T.Type:
        elems = tuple(type_rules.tuple_elem_type(self.const_int(e), self.expr(e)) for e in node.elems)
        for e, t in zip(node.elems, elems):
            if isinstance(t, T.AggType):
                self.error(f"Map type {t.name} cannot exist inside a tuple.", e)
        return T.TupleType(elems)

    def expr_TupleIndex(self, node: ast.TupleIndex) -> T.Type:
        t = self.expr(node.operand)
        if not isinstance(t, T.TupleType):
            self.error(f"Can not access index '{node.index}' on expression of type '{T.describe(t)}'", node)
            return T.U64
        if not 0 <= node.index < len(t.elems):
            self.error(f"Invalid tuple index: {node.index}. Found {len(t.elems)} elements in tuple.", node)
            return T.U64
        return t.elems[node.index]

    def _unsupported(self, node: ast.Expr) -> T.Type:
        self.error(f"{type(node).__name__} expressions are not supported yet", node)
        return T.U64

    expr_PositionalParam = _unsupported
    expr_BlockExpr = value_exprs.check_block_expr
    expr_IfExpr = value_exprs.check_if_expr
    expr_Record = value_exprs.check_record
    stmt_Discard = value_exprs.check_discard

    # ------------------------------------------------------------ statements
    def stmt(self, node: ast.Stmt) -> None:
        _STMT_METHODS[type(node)](self, node)

    def stmt_Block(self, node: ast.Block) -> None:
        self.scopes.append({})
        for s in node.stmts:
            self.stmt(s)
        self.scopes.pop()

    # ------------------------------------------------------------ scratch variables and their scopes
    # A variable lives in the block that first assigns or declares it; a
    # sibling block may reuse the name for a new variable, so each one gets a
    # key ("$x", "$x#2") that codegen uses for its slot.
    def find_var(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare_var(self, var: ast.Variable) -> str:
        n = self.var_counts.get(var.name, 0) + 1
        self.var_counts[var.name] = n
        key = var.name if n == 1 else f"{var.name}#{n}"
        self.scopes[-1][var.name] = key
        self.variables.pop(key, None)
        var.key = key
        return key

    def var_key(self, var: ast.Variable, declare: bool = False) -> str:
        key = self.find_var(var.name)
        if key is None:
            return self.declare_var(var) if declare else var.name + "#undeclared"
        var.key = key
        return key

    def stmt_ExprStmt(self, node: ast.ExprStmt) -> None:
        e = node.expr
        if isinstance(e, ast.Call):
            fn = builtins.function(e.name)
            if fn is not None and fn.aggregation:
                self.error(f"{e.name}() must be assigned directly to a map, e.g. "
                           f"@x = {builtins.AGGREGATE_HINTS[e.name]}", e)
                return
        self.expr(e)

    def stmt_Assign(self, node: ast.Assign) -> None:
        target, value = node.target, node.value
        if node.op is not None:
            value = ast.Binop(node.op, target, value, span=node.span)
            if isinstance(target, ast.Map) and target.name not in self.ctx.maps:
                self.expr(node.value)  # `@x += n` on a new map starts it at 0
                self.assign_map(target, ast.Integer(0, "0", span=node.span), node)
        if isinstance(target, ast.Map):
            self.assign_map(target, value, node)
        elif isinstance(target, ast.Variable):
            self.assign_var(target, value, node)
        else:
            self.error("Can only assign to maps and variables", target)

    def assign_var(self, var: ast.Variable, value: ast.Expr, stmt: ast.Node) -> None:
        vt = self.expr(value)
        if isinstance(vt, T.VoidType):
            self.error(f"Value '{T.describe(vt)}' cannot be assigned to a scratch variable.", value)
            return
        if isinstance(vt, T.AggType):
            self.error(f"Value '{vt.name}' cannot be assigned to a scratch variable.",
                       stmt if isinstance(value, ast.Map) else value)
            return
        key = self.var_key(var, declare=True)
        old = self.variables.get(key)
        if isinstance(vt, T.PointerType) and vt.addrspace == "ctx" and isinstance(vt.pointee, T.RecordType):
            vt = vt.pointee  # `$a = args`: a copy of the record
        if old is None:
            vt = type_rules.literal_variable_type(self.const_int(value), vt)
            self.variables[key] = self.learned_type(key, vt, value)
            if type_rules.flexible_literal(value):
                self.literal_vars.add(key)
        else:
            if isinstance(old, T.IntType) and isinstance(vt, T.IntType) and key not in self.typed_vars:
                old, vt = type_rules.int_assignment(old, vt, value, key in self.literal_vars)
                self.variables[key] = old
            if not type_rules.flexible_literal(value):
                self.literal_vars.discard(key)
            merged = _merge(_storage_type(old), _storage_type(vt)) if T.is_int(old) == T.is_int(vt) else None
            if merged is None:
                self.error(f"Type mismatch for {var.name}: trying to assign value of type '{T.describe(vt)}' "
                           f"when variable already has a type '{T.describe(old)}'", stmt)
                return
            if isinstance(old, T.IntType) and isinstance(vt, T.IntType) and old != vt \
                    and key not in self.typed_vars:  # `let $x: uint8` keeps its type
                self.variables[key] = merged
            elif isinstance(old, (T.StringType, T.TupleType)):
                self.variables[key] = merged
        var.type = self.variables[key]

    def learned_type(self, key: str, vt: T.Type, value: ast.Expr) -> T.Type:
        """A string or tuple variable's type from its first assignment on: the
        widest of all its assignments (learnt by the first round), so that
        `$a = ("hi", 1); ...; $a = ("longer", 2)` keeps every value whole; an
        integer literal first assigned takes the type the variable ends with."""
        learned = self.unit.variables.get(key) if self.final and self.unit is not None else None
        if learned is not None and type_rules.literal_fits(value, learned):
            return learned
        if isinstance(vt, (T.StringType, T.TupleType)) and learned is not None \
                and _merge(learned, _storage_type(vt)) == learned:
            return learned
        return vt

    def stmt_VarDecl(self, node: ast.VarDecl) -> None:
        if self.find_var(node.var.name) is not None:
            self.error(f"Variable {node.var.name} was already declared. Variable shadowing is not allowed.", node)
            return
        key = self.declare_var(node.var)
        if node.type_name is not None:
            t = self.resolve_type(node.type_name, self.default_addrspace())
            if t is None:
                return
            self.variables[key] = t
            self.typed_vars.add(key)
        if node.value is not None:
            self.assign_var(node.var, node.value, node)
        elif node.type_name is None:
            self.untyped_vars.add(key)  # `let $x;`: the first assignment gives the type
        node.var.type = self.variables.get(key)

    def _cond(self, node: ast.Expr) -> None:
        t = self.expr(node)
        if not T.is_integerish(t):
            self.error(f"Invalid condition: {T.describe(t)}", node)

    def stmt_If(self, node: ast.If) -> None:
        self._cond(node.cond)
        self.stmt(node.then)
        if node.otherwise is not None:
            self.stmt(node.otherwise)

    def stmt_While(self, node: ast.While) -> None:
        self._cond(node.cond)
        self.loop_body(node.body)

    def loop_body(self, body: ast.Block) -> None:
        """A loop's body, where break and continue are allowed."""
        self.loop_depth += 1
        self.stmt(body)
        self.loop_depth -= 1

    def stmt_Unroll(self, node: ast.Unroll) -> None:
        n = self.expect_const("unroll", node.count, "count")
        if n is not None and not 1 <= n <= 100:
            self.error("unroll maximum value is 100" if n > 100 else "unroll minimum value is 1", node.count)
        self.stmt(node.body)

    def stmt_For(self, node: ast.For) -> None:
        if self.find_var(node.var.name) is not None:
            self.error(f"Loop declaration shadows existing variable: {node.var.name}", node.var)
            return
        if isinstance(node.iterable, ast.Range):
            self.expect_int("range", node.iterable.low)
            self.expect_int("range", node.iterable.high)
            var_t: T.Type = T.S64
        else:
            var_t = self.map_element_type(node.iterable)
        self.scopes.append({})
        key = self.declare_var(node.var)
        self.variables[key] = var_t
        node.var.type = self.variables[key]
        self.loop_body(node.body)
        self.scopes.pop()

    def map_element_type(self, node: ast.Map) -> T.Type:
        """What `for ($kv : @m)` binds: (key, value), the key a tuple when the map has several."""
        info = self.expect_map("for", node, whole=True)
        if info is None:
            return T.TupleType((T.S64, T.S64))
        value_t = agg_reads.read_type(info)
        if isinstance(value_t, T.AggType):
            self.error(f"Loop expression does not support type: {value_t.name}", node)
        elif not info.key_types:
            self.error(f"for loops need a map with keys: {node.name} has none", node)
        keys = info.key_types or [T.U64]
        key_t = keys[0] if len(keys) == 1 else T.TupleType(tuple(keys))
        return T.TupleType((key_t, value_t))

    def stmt_Jump(self, node: ast.Jump) -> None:
        if node.kind in ("break", "continue") and not self.loop_depth:
            self.error(f"'{node.kind}' statement is not allowed in a probe", node)
        if node.value is not None:
            self.expr(node.value)

    # ------------------------------------------------------------ probes
    def probe(self, unit: ProbeUnit) -> None:
        self.unit = unit
        self.loop_depth = 0
        self.variables = {}
        self.scopes = [{}]
        self.var_counts = {}
        self.typed_vars: set[str] = set()
        self.untyped_vars: set[str] = set()
        self.literal_vars = set()
        if unit.probe.predicate is not None:
            self._cond(unit.probe.predicate)
        self.stmt(unit.probe.block)
        for key in self.untyped_vars:  # declared with `let $x;` and never assigned
            self.variables.setdefault(key, T.S64)
        unit.variables = dict(self.variables)


_EXPR_METHODS = dispatch_table(TypeChecker, "expr_")
_STMT_METHODS = dispatch_table(TypeChecker, "stmt_")


def typecheck(ctx: CompileContext) -> None:
    scratch = Diagnostics()
    learner = TypeChecker(ctx, scratch, final=False)
    for unit in ctx.units:
        learner.probe(unit)
    checker = TypeChecker(ctx, ctx.diags, final=True)
    for unit in ctx.units:
        checker.probe(unit)
    check_map_decls(ctx)


def check_map_decls(ctx: CompileContext) -> None:
    """Declared maps: per-CPU kinds hold aggregations, the others plain values."""
    for name, decl in ctx.map_decls.items():
        info = ctx.maps.get(name)
        if info is None:
            ctx.diags.warning(f"Unused map: {name}", decl.span)
            continue
        declared_percpu = decl.kind.startswith("percpu")
        if declared_percpu != info.percpu:
            have = ("percpu" if info.percpu else "") + ("lruhash" if "lru" in decl.kind else "hash")
            ctx.diags.error(f"Incompatible map types. Type from declaration: {decl.kind}. "
                            f"Type from value/key type: {have}", info.span)


def _keys_shown(keys: list[ast.Expr]) -> str:
    """Map keys' type as bpftrace's diagnostics name it: `@m[1, "hi"]` is '(int8,string[3])'."""
    return _types_shown([type_rules.tuple_elem_type(k.value if type_rules.flexible_literal(k) else None, k.type)
                         for k in keys])


def _types_shown(types: list[T.Type]) -> str:
    names = [t.name for t in types]
    return names[0] if len(names) == 1 else "(" + ",".join(names) + ")"


def _is_packed_key(key_types: list[T.Type], have: list[T.Type]) -> bool:
    """One tuple-typed key for a map with several keys: its elements are the keys."""
    return (len(key_types) == 1 and len(have) > 1 and isinstance(key_types[0], T.TupleType)
            and len(key_types[0].elems) == len(have))
