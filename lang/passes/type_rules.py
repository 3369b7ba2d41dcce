"""bpftrace's typing rules for operators on pointers and arrays, unary
operators, and casts: what the type checker (typecheck.py) asks when an
operand is not a plain integer.

    ptr + int, int + ptr, ptr - int   a pointer of the same type (scaled by the
                                      pointee's size when lowered)
    ptr <op> ptr / int                comparisons and && || give a bool; two
                                      pointers to different types warn
    array == array, array != array    integer arrays of one type and size
    -x, ~x                            64 bits, unsigned when x is
    (uint8[4])$x, (int8[])"abc"       integers and strings to integer arrays
    (uint32)$arr                      an integer array to an integer of its size
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytrace.lang import ast, ktypes
from pytrace.lang import types as T

if TYPE_CHECKING:
    from pytrace.lang.passes.typecheck import TypeChecker

COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}


def literal_size(node: ast.Expr, t: T.Type) -> int:
    """The byte size bpftrace gives a value: a non-negative literal has the
    smallest signed type that holds it."""
    if isinstance(node, ast.Integer) and 0 <= node.value < 1 << 63:
        return next((b for b in (8, 16, 32) if node.value < 1 << (b - 1)), 64) // 8
    return t.size


def literal_type(ctx, node: ast.Integer) -> T.Type:
    """A literal's type; an enumerator (`ONE`, replaced by its value when
    resolved, `raw` keeping its name) has its enum's type, 64 bits wide."""
    if node.raw[:1].isalpha() or node.raw[:1] == "_":
        t = ctx.c_types.enumerator_type(node.raw) if ctx.c_types is not None else None
        if t is None:
            t = ktypes.enumerator_type(node.raw, ctx.kernel.btf())
        if t is not None:
            return t
    return T.U64 if node.value > 2**63 - 1 else T.S64


def tuple_elem_type(literal: int | None, t: T.Type) -> T.Type:
    """A tuple element's type: an integer literal takes the smallest signed
    type holding it (as bpftrace types literals), so `(1, 2)` is 2 bytes."""
    if not isinstance(t, T.IntType):
        return T.storage_type(t)
    if literal is None or isinstance(t, T.EnumType) or literal > 2**63 - 1:
        return t
    return next(T.IntType(b, True) for b in (8, 16, 32, 64) if -(1 << (b - 1)) <= literal < 1 << (b - 1))


_FOLD = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
         "/": lambda a, b: a // b if b else None, "%": lambda a, b: a % b if b else None,
         "<<": lambda a, b: a << b if 0 <= b < 64 else None, ">>": lambda a, b: a >> b if 0 <= b < 64 else None,
         "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}


def fold_int(node: ast.Expr) -> int | None:
    """The value of an integer expression made of literals only (`1 + 1`), else None."""
    if isinstance(node, ast.Integer):
        return node.value
    if isinstance(node, ast.Unop) and node.op == "-":
        value = fold_int(node.operand)
        return -value if value is not None else None
    if isinstance(node, ast.Binop) and node.op in _FOLD:
        left, right = fold_int(node.left), fold_int(node.right)
        return _FOLD[node.op](left, right) if left is not None and right is not None else None
    return None


def tuple_index(tc: TypeChecker, node: ast.Index, t: T.TupleType) -> T.Type:
    """`$t[1 + 1]`: a tuple's element by an index known when compiling."""
    i = fold_int(node.index)
    if i is None:
        tc.error("The array index operator [] on a tuple needs an index known when compiling "
                 "(integer literals only)", node.index)
        return T.U64
    if not 0 <= i < len(t.elems):
        tc.error(f"Invalid tuple index: {i}. Found {len(t.elems)} elements in tuple.", node)
        return T.U64
    node.tuple_element = i
    return t.elems[i]


def flexible_literal(node: ast.Expr) -> bool:
    """A non-negative integer literal: its sign adapts to where it goes."""
    return isinstance(node, ast.Integer) and 0 <= node.value < 1 << 63 and not node.raw[:1].isalpha()


def literal_fits(node: ast.Expr, t: T.Type) -> bool:
    """A flexible literal that an integer type t holds."""
    return flexible_literal(node) and isinstance(t, T.IntType) \
        and node.value < 1 << (t.bits - (1 if t.signed else 0))


def literal_variable_type(literal: int | None, t: T.Type) -> T.Type:
    """A variable first assigned an integer literal starts with the smallest
    signed type holding it (`$a = 1` is an int8: sizeof($a) is 1); later
    assignments and `++` widen it."""
    if literal is None or isinstance(t, T.EnumType) or not isinstance(t, T.IntType):
        return t
    return tuple_elem_type(literal, t)


def increment_result(t: T.IntType, op: str) -> T.Type:
    """What `++`/`--` assigns back to an integer variable: 64 bits, signed
    when the variable is or for `--`."""
    return T.S64 if t.signed or op == "--" else T.U64


def int_assignment(old: T.IntType, vt: T.IntType, value: ast.Expr, literal_only: bool) -> tuple[T.Type, T.Type]:
    """(variable type, value type) for assigning value to an integer variable:
    a non-negative literal takes the variable's type when it fits
    (`$a = (uint64)1; $a = 2`); a variable that only held such literals takes
    the first other integer's type (`$a = 1; $a = (uint64)2` is a uint64)."""
    if literal_fits(value, old):
        return old, old
    if literal_only and not flexible_literal(value):
        return vt, vt
    return old, vt


def pointer_binop(tc: TypeChecker, node: ast.Binop, lt: T.Type, rt: T.Type) -> T.Type:
    """A binary operator with a pointer on one side."""
    for side, t in ((node.left, lt), (node.right, rt)):
        if isinstance(t, T.PointerType) and not T.is_integerish(t):  # `args`: a record, as in bpftrace
            tc.error(f"The {node.op} operator can not be used on expressions of type '{T.describe(t)}'", side)
            return T.U64
    left_is_ptr = isinstance(lt, T.PointerType)
    ptr, other = (lt, rt) if left_is_ptr else (rt, lt)
    if isinstance(other, T.PointerType):
        if node.op in COMPARISONS and lt.pointee != rt.pointee:
            tc.warning(f"comparison of distinct pointer types: {_pointee_name(lt)}, {_pointee_name(rt)}", node)
        if node.op in COMPARISONS:
            return T.BOOL
    elif isinstance(other, (T.IntType, T.BoolType)):
        if node.op == "+" or (node.op == "-" and left_is_ptr):
            return ptr
        if node.op in COMPARISONS:
            return T.BOOL
    tc.error(f"The {node.op} operator can not be used on expressions of types "
             f"{T.describe(lt)}, {T.describe(rt)}", node)
    return T.U64


def _pointee_name(t: T.PointerType) -> str:
    return t.pointee.name if t.pointee is not None else "void"


def array_binop(tc: TypeChecker, node: ast.Binop, lt: T.ArrayType, rt: T.ArrayType) -> T.Type:
    """`==` and `!=` on two integer arrays of one type and size."""
    if node.op not in ("==", "!="):
        tc.error(f"The {node.op} operator cannot be used on arrays.", node)
    if lt.count != rt.count:
        tc.error("Only arrays of same size support comparison operators.", node)
    if not isinstance(lt.elem, T.IntType) or lt != rt:
        tc.error("Only arrays of same sized integer support comparison operators.", node)
    return T.BOOL


def buffer_binop(tc: TypeChecker, node: ast.Binop, lt: T.Type, rt: T.Type) -> T.Type:
    """`==` and `!=` on two buffers (buf()): their bytes compared."""
    if node.op not in ("==", "!=") or not isinstance(rt, T.BufferType) or not isinstance(lt, T.BufferType):
        tc.error(f"The {node.op} operator can not be used on expressions of types "
                 f"{T.describe(lt)}, {T.describe(rt)}", node)
    return T.BOOL


def unop_int(t: T.Type) -> T.Type:
    """`-x` and `~x`: 64 bits, signed only when x is."""
    return T.S64 if T.is_signed(t) else T.U64


def increment_step(t: T.Type) -> int:
    """What `++` adds to a value of type t: one pointee for a pointer."""
    if isinstance(t, T.PointerType):
        return pointer_scale(t)
    return 1


def pointer_scale(t: T.PointerType) -> int:
    """Bytes one step of pointer arithmetic moves: the pointee's size (1 for void *)."""
    return t.pointee.size if t.pointee is not None and t.pointee.size else 1


def field_type(field_t: T.Type, base: T.Type) -> T.Type:
    """A field's type as read through `base`: pointers in a struct read from
    user memory point into user memory too (and so do those in its arrays)."""
    space = base.addrspace if isinstance(base, T.PointerType) else None
    if space != "user":
        return field_t
    if isinstance(field_t, T.PointerType):
        return T.PointerType(field_t.pointee, space)
    if isinstance(field_t, T.ArrayType) and isinstance(field_t.elem, T.PointerType):
        return T.ArrayType(T.PointerType(field_t.elem.pointee, space), field_t.count)
    return field_t


def can_increment(t: T.Type) -> bool:
    return T.is_int(t) or isinstance(t, T.PointerType)


def _int_array(t: T.Type) -> bool:
    return isinstance(t, T.ArrayType) and isinstance(t.elem, (T.IntType, T.BoolType))


def cast(tc: TypeChecker, node: ast.Cast, source: T.Type, target: T.Type) -> T.Type:
    """The type of `(target)expr`, after reporting a cast bpftrace refuses."""
    def refuse() -> T.Type:
        tc.error(f"Cannot cast from \"{T.describe(source)}\" to \"{T.describe(target)}\"", node)
        return target if target.is_scalar else T.U64

    if _int_array(target):
        return array_cast(tc, node, source, target, refuse)
    if isinstance(target, T.StringType) and isinstance(source, T.StringType):
        return target if target.size >= source.size else refuse()  # `(string[32])$s`: only wider
    if isinstance(source, T.ArrayType):
        if isinstance(target, T.IntType) and _int_array(source) and target.size == source.size:
            return target
        return refuse()
    if isinstance(target, T.EnumType) and isinstance(node.operand, ast.Integer) \
            and node.operand.value not in dict(target.names):
        tc.error(f"Enum: {target.enum_name} doesn't contain a variant value of {node.operand.value}", node)
    if isinstance(target, (T.IntType, T.BoolType, T.PointerType)) and T.is_integerish(source):
        return target
    return refuse()


def array_cast(tc: TypeChecker, node: ast.Cast, source: T.Type, target: T.ArrayType, refuse) -> T.Type:
    """`(int8[4])$x`, `(int8[])$x`, `(bool[2])$x`, `(uint8[])"str"`: the same
    bytes seen as an array; `[]` takes its length from the source's size."""
    size = literal_size(node.operand, source) if isinstance(source, T.IntType) else source.size
    if target.count == 0:
        if target.elem.size == 0:
            tc.error("Could not determine size of the array", node)
            return T.U64
        if size % target.elem.size:
            tc.error("Cannot determine array size: the element size is incompatible with the cast "
                     "integer size", node)
            return T.U64
        target = T.ArrayType(target.elem, size // target.elem.size)
    if isinstance(source, T.IntType):
        if target.size <= 8 and target.size >= size:
            return target
        return refuse()
    if isinstance(source, (T.BoolType, T.StringType)) and target.size == source.size:
        return target
    return refuse()
