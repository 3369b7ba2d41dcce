"""Lowerings of the string, table, map and type-predicate builtins of lang/builtins_strings.py."""

from __future__ import annotations

from pytrace.lang.records import record
from typing import TYPE_CHECKING

from llvmlite import ir

from pytrace.codegen import strtables
from pytrace.codegen.calls import _byte_at, _counted_loop, find_substring, function
from pytrace.codegen.irbuilder import I32, I64, PTR
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.builtins_strings import NAME_STRING, TYPE_PREDICATES

if TYPE_CHECKING:
    from pytrace.codegen.lower import ProbeLowering


# ---------------------------------------------------------------- name tables

@record(frozen=True)
class NameTable:
    map_name: str
    names: dict[int, str]
    unknown: str
    size: int  # values at or above it (as u32) are unknown
    absolute: bool = False  # strerror(-EPERM) is strerror(EPERM)

    def texts(self) -> list[str]:
        """Every entry, then the unknown text (where out-of-range values are sent)."""
        return [self.names.get(i, self.unknown) for i in range(self.size)] + [self.unknown]


NAME_TABLES = {
    "strerror": NameTable("__strerror", strtables.ERRNO, strtables.ERRNO_UNKNOWN,
                          max(strtables.ERRNO) + 1, absolute=True),
    "signal_name": NameTable("__signal_name", strtables.SIGNALS, strtables.SIGNAL_UNKNOWN,
                             max(strtables.SIGNALS) + 1),
    "syscall_name": NameTable("__syscall_name", strtables.SYSCALLS, strtables.SYSCALL_UNKNOWN,
                              max(strtables.SYSCALLS) + 1),
}


def _name_lookup(pl: "ProbeLowering", call: ast.Call) -> ir.Value:
    """Copy entry n of the table's array map (filled at load) into a string."""
    table = NAME_TABLES[call.name]
    index = pl.state.string_table(table.map_name, table.texts(), NAME_STRING.size)
    n = pl.bb.to_i64(pl.b.trunc(pl.expr(call.args[0]), I32), signed=True)  # bpftrace reads an int32
    if table.absolute:
        n = pl.b.select(pl.b.icmp_signed("<", n, I64(0)), pl.b.neg(n), n, name="abs")
    known = pl.b.icmp_unsigned("<", n, I64(table.size))
    key = pl.slot_uninit(T.U32, "name_key")
    pl.bb.store(key, pl.b.select(known, n, I64(table.size), name="name_index"), 4)
    entry = pl.bb.map_lookup_elem(pl.bb.map_ref(index, table.map_name.lstrip("_")), key, name="name_entry")
    out = pl.slot(NAME_STRING, call.name)
    found, done = pl.block(f"{call.name}_found"), pl.block(f"{call.name}_done")
    pl.b.cbranch(pl.b.icmp_unsigned("!=", entry, ir.Constant(PTR, None)), found, done)
    pl.b.position_at_end(found)
    pl.bb.memcpy(out, entry, NAME_STRING.size)
    pl.b.branch(done)
    pl.b.position_at_end(done)
    return out


for _name in NAME_TABLES:
    function(_name)(_name_lookup)


# ---------------------------------------------------------------- strings

@function("str_concat")
def _str_concat(pl, call):
    """Copy s1, then s2 from s1's NUL (both with probe_read_kernel_str, so the
    verifier sees one path, with s1's length bounded by its size)."""
    first, second = call.args
    a, b = pl.expr(first), pl.expr(second)
    out = pl.slot(call.type, "str_concat")
    copied = pl.bb.probe_read_str(out, first.type.size, a, user=False)  # bytes copied, NUL included
    length = pl.slot_uninit(T.U64, "concat_len")
    pl.bb.store(length, I64(0))
    ok, done = pl.block("concat_len_ok"), pl.block("concat_len_done")
    pl.b.cbranch(pl.b.icmp_signed(">", copied, I64(0)), ok, done)
    pl.b.position_at_end(ok)
    last = I64(first.type.size - 1)
    n = pl.b.sub(copied, I64(1))
    pl.bb.store(length, pl.b.select(pl.b.icmp_unsigned(">", n, last), last, n))
    pl.b.branch(done)
    pl.b.position_at_end(done)
    at = pl.bb.load(length, name="concat_at")
    bounded, end = pl.block("concat_bounded"), pl.block("concat_end")
    pl.b.cbranch(pl.b.icmp_unsigned("<=", at, last), bounded, end)  # always: a bound for the verifier
    pl.b.position_at_end(bounded)
    pl.bb.probe_read_str(pl.bb.gep(out, at), second.type.size, b, user=False)
    pl.b.branch(end)
    pl.b.position_at_end(end)
    return out


@function("strstr")
def _strstr(pl, call):
    """The index of the first needle in the haystack (0 for an empty needle), else -1."""
    return find_substring(pl, *call.args, "strstr")


@function("strcap")
def _strcap(pl, call):
    return I64(call.const_value or 0)


def _bytes_of(pl: "ProbeLowering", node: ast.Expr) -> ir.Value:
    """A pointer to a value's bytes: memory values are already, scalars are spilled."""
    value = pl.expr(node)
    if node.type.is_scalar or isinstance(node.type, T.BoolType):
        slot = pl.slot(T.U64, "memcmp_scalar")
        pl.bb.store(slot, value)
        return slot
    return value


@function("memcmp")
def _memcmp(pl, call):
    """0 when the first n bytes are equal, else left[i] - right[i] (as signed chars) at the first difference."""
    left, right = _bytes_of(pl, call.args[0]), _bytes_of(pl, call.args[1])
    n = call.args[2]
    count = n.value if isinstance(n, ast.Integer) else 0
    result = pl.slot_uninit(T.U64, "memcmp")
    pl.bb.store(result, I64(0))

    def body(i, brk):
        lc, rc = _byte_at(pl, left, i), _byte_at(pl, right, i)
        differ, same = pl.block("memcmp_differ"), pl.block("memcmp_same")
        pl.b.cbranch(pl.b.icmp_unsigned("!=", lc, rc), differ, same)
        pl.b.position_at_end(differ)
        pl.bb.store(result, pl.b.sub(pl.b.sext(lc, I64), pl.b.sext(rc, I64)))
        pl.b.branch(brk)
        pl.b.position_at_end(same)

    _counted_loop(pl, count, "memcmp", body)
    return pl.bb.load(result, name="memcmp")


@function("pton")
def _pton(pl, call):
    out = pl.slot(call.type, "pton")
    value = call.const_value or 0
    for offset in range(0, call.type.size, 4):
        pl.bb.store(out, I64((value >> (8 * offset)) & 0xFFFFFFFF), 4, offset)
    return out


# ---------------------------------------------------------------- maps

@function("find")
def _find(pl, call):
    node = call.key_map
    entry = pl.map_lookup(node, pl.map_key(node))
    found = pl.b.icmp_unsigned("!=", entry, ir.Constant(PTR, None), name="found")
    copy, done = pl.block("find_copy"), pl.block("find_done")
    pl.b.cbranch(found, copy, done)
    pl.b.position_at_end(copy)
    pl.assign_var(call.args[2], pl.load_value(entry, node.type), node.type)
    pl.b.branch(done)
    pl.b.position_at_end(done)
    return pl.bb.bool_i64(found)


# ---------------------------------------------------------------- type predicates

def _predicate(pl, call):
    return I64(call.const_value or 0)  # decided by the type checker; the argument is not evaluated


for _name in TYPE_PREDICATES:
    function(_name)(_predicate)


@function("is_err")
def _is_err(pl, call):
    """ERR_PTR values are the last 4095 addresses: -4095 <= (int64)ptr < 0."""
    value = pl.bb.to_i64(pl.expr(call.args[0]))
    return pl.bb.bool_i64(pl.b.icmp_unsigned(">=", value, I64(2**64 - 4095), name="is_err"))
