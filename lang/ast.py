"""The abstract syntax tree.

Plain dataclasses, one per construct, in the style of pycparser: every node
carries `span` (its source range) as a keyword-only field, and expression
nodes carry `type`, filled in by the type-checking pass. `children()` walks
the fields that hold nodes, so the walkers in lang/visitor.py need no
per-class code.

What a pass computes for later stages lives in fields declared with
`annotation(set_by)`: keyword-only, left out of comparison and repr, and not
part of the tree (`tree_fields()` leaves them out, so `children()`, the macro
pass's `clone()`, `flatten()` and the AST dump do not see them). Passes set no
other attributes on nodes (tests/lang/test_pass_outputs.py checks this).

The parser builds these nodes with no semantics: bare identifiers are
`Identifier`s, and the resolve pass replaces those that name builtins with
`Builtin` nodes.
"""

from __future__ import annotations

from dataclasses import Field, field, fields
from functools import cache
from typing import Any, Iterator

from pytrace.lang.records import record, record_repr
from pytrace.lang.source import Span


def annotation(set_by: str) -> Any:
    """A field that pass `set_by` fills in: not part of the tree as written."""
    return field(default=None, kw_only=True, repr=False, compare=False, metadata={"set_by": set_by})


def is_annotation(f: Field) -> bool:
    return "set_by" in f.metadata


def tree_fields(node: "Node") -> tuple[Field, ...]:
    """The fields of a node that make up the tree: everything but annotations."""
    return _tree_fields(type(node))


@cache
def _tree_fields(cls: type) -> tuple[Field, ...]:
    return tuple(f for f in fields(cls) if not is_annotation(f))


# Nodes compare by identity, share one __repr__ (Node's, the dataclass format) and one
# __init__ (lang/records.py): a dataclass compiles each method per class, ~10 ms of every compile.
node = record(eq=False, repr=False)


@node
class Node:
    span: Span | None = annotation("parse")  # the source range

    __repr__ = record_repr

    def children(self) -> Iterator["Node"]:
        for f in tree_fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def replace_child(self, old: "Node", new: "Node") -> None:
        for f in tree_fields(self):
            value = getattr(self, f.name)
            if value is old:
                setattr(self, f.name, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new


# ---------------------------------------------------------------- expressions


@node
class Expr(Node):
    type: Any = annotation("typecheck")  # a lang.types.Type


@node
class Integer(Expr):
    value: int
    raw: str = ""  # the literal as written


@node
class String(Expr):
    value: str  # escapes already decoded


@node
class Boolean(Expr):
    value: bool


@node
class Identifier(Expr):
    """A bare name: a builtin (pid, comm, args...), an enum value, a type."""

    name: str


@node
class Builtin(Expr):
    """An identifier the resolve pass bound to a builtin or provider variable."""

    name: str


@node
class PositionalParam(Expr):
    """`$1`..`$N`; `index` 0 means `$#` (the count)."""

    index: int


@node
class Variable(Expr):
    """A scratch variable `$x` (name includes the `$`)."""

    name: str
    # Its slot: "$x", or "$x#2" for a later variable of the same name in a sibling block.
    key: str | None = annotation("typecheck")


@node
class Map(Expr):
    """`@name[k1, k2]`; `name` includes the `@` (`@` alone is the anonymous map).

    `keys` is empty for a scalar map (`@x`)."""

    name: str
    keys: list[Expr] = field(default_factory=list)
    # One tuple-valued key that stands for all of the map's keys (`@m[$t]`, `delete(@m, $t)`).
    keys_packed: bool = annotation("typecheck")


@node
class Call(Expr):
    name: str
    args: list[Expr] = field(default_factory=list)
    # Calls that send data to user space: a lang.context.FormatInfo.
    format: Any = annotation("typecheck")
    address: int | None = annotation("typecheck")  # kaddr(), uaddr(): the symbol's address
    signum: int | None = annotation("typecheck")  # signal("NAME"): the signal's number
    const_value: int | None = annotation("typecheck")  # a value known at compile time: cgroupid(), is_str()...
    key_map: Map | None = annotation("typecheck")  # has_key(), delete(@m, key): the element it names
    arg_type: Any = annotation("typecheck")  # join(): the type of each string read; skboutput(): struct sk_buff
    expansion: Any = annotation("typecheck")  # ppid(), find()...: the typed expression it stands for
    # A call inside an expanded macro: the spans of the macro calls it came from, innermost first.
    expanded_from: list[Span] | None = annotation("macros")


@node
class Binop(Expr):
    op: str  # || && | ^ & == != < <= > >= << >> + - * / %
    left: Expr
    right: Expr


@node
class Unop(Expr):
    op: str  # ! ~ - * (deref) & (address-of)
    operand: Expr


@node
class Increment(Expr):
    """`x++`, `++x`, `x--`, `--x` on a map or variable."""

    target: Expr
    op: str  # "++" or "--"
    prefix: bool = False


@node
class Ternary(Expr):
    cond: Expr
    then: Expr
    otherwise: Expr


@node
class TypeName(Node):
    """A type as written in a cast or declaration: `uint32`, `struct task_struct *`."""

    name: str  # "uint32", "struct task_struct", "int8[4]"...
    pointer: int = 0  # number of `*`
    of: Node | None = None  # `typeof(x)`: the TypeName or expression whose type this names (name "typeof")


@node
class Cast(Expr):
    to: TypeName
    operand: Expr


@node
class FieldAccess(Expr):
    """`e.field` or `e->field` (`arrow`)."""

    operand: Expr
    field_name: str
    arrow: bool = False
    # On a record (`$r.name`): the position of the field in the record's tuple layout.
    tuple_index: int | None = annotation("typecheck")


@node
class Index(Expr):
    """`e[i]` on an array, pointer or tuple (not a map)."""

    operand: Expr
    index: Expr
    tuple_element: int | None = annotation(set_by="typecheck")  # `$t[1 + 1]`: the index, folded


@node
class TupleIndex(Expr):
    """`$t.0`."""

    operand: Expr
    index: int


@node
class Tuple(Expr):
    elems: list[Expr] = field(default_factory=list)


@node
class Record(Expr):
    """`(name = value, ...)`: a tuple whose elements have names."""

    names: list[str] = field(default_factory=list)
    values: list[Expr] = field(default_factory=list)


@node
class BlockExpr(Expr):
    """`{ stmts; value }` used as a value; `value` is None when the block ends
    with a statement (its type is then none)."""

    stmts: list["Stmt"] = field(default_factory=list)
    value: Expr | None = None


@node
class IfExpr(Expr):
    """`if cond { a } else { b }` used as a value."""

    cond: Expr
    then: BlockExpr
    otherwise: Expr | None = None  # a BlockExpr, an IfExpr (else if), or None


@node
class Sizeof(Expr):
    arg: Node  # an Expr or a TypeName
    value: int | None = annotation("typecheck")  # the size in bytes


@node
class Offsetof(Expr):
    of: Node  # an Expr or a TypeName
    field_path: list[str] = field(default_factory=list)
    value: int | None = annotation("typecheck")  # the offset in bytes


@node
class Range(Node):
    """`a..b` in `for ($i : a..b)`."""

    low: Expr
    high: Expr


# ----------------------------------------------------------------- statements


@node
class Stmt(Node):
    pass


@node
class Block(Stmt):
    stmts: list[Stmt] = field(default_factory=list)


@node
class ExprStmt(Stmt):
    expr: Expr


@node
class Discard(Stmt):
    """`_ = expr;`: the value is computed and dropped, without a warning."""

    expr: Expr


@node
class Assign(Stmt):
    """`target = value`, or `target op= value` when `op` is set ("+", "<<"...).

    `target` is a Map or a Variable."""

    target: Expr
    value: Expr
    op: str | None = None


@node
class VarDecl(Stmt):
    """`let $x [: type] [= value]`."""

    var: Variable
    type_name: TypeName | None = None
    value: Expr | None = None


@node
class If(Stmt):
    cond: Expr
    then: Block
    otherwise: Stmt | None = None  # a Block, an If (else if), or None


@node
class While(Stmt):
    cond: Expr
    body: Block


@node
class Unroll(Stmt):
    count: Expr
    body: Block


@node
class For(Stmt):
    """`for ($kv : @map)` or `for ($i : a..b)`."""

    var: Variable
    iterable: Node  # a Map or a Range
    body: Block


@node
class Jump(Stmt):
    kind: str  # "return", "break", "continue"
    value: Expr | None = None


# -------------------------------------------------------------- top level


@node
class AttachPoint(Node):
    """One attach point as written, e.g. `tracepoint:syscalls:sys_enter_*`.

    The parser keeps the raw text; the probe-binding pass hands it to a
    provider, which parses it into `provider` and `params`."""

    raw: str
    provider: Any = annotation("bind_probes")  # a lang.probes.base.ProbeProvider
    params: Any = annotation("bind_probes")


@node
class Probe(Node):
    attach_points: list[AttachPoint]
    predicate: Expr | None
    block: Block


@node
class ConfigAssign(Node):
    name: str
    value: Expr


@node
class Config(Node):
    assigns: list[ConfigAssign] = field(default_factory=list)


@node
class MapDecl(Node):
    """`let @m = hash(N);` at top level."""

    name: str
    kind: str
    max_entries: int


@node
class Macro(Node):
    name: str
    params: list[Expr]  # Variables and Maps
    body: Block


@node
class CDefinition(Node):
    """`#include ...`, `#define ...`, or a C `struct`/`union`/`enum` definition,
    kept as text."""

    kind: str  # "include", "define", "struct"
    text: str


@node
class Import(Node):
    """`import "path";` at top level."""

    path: str


@node
class Program(Node):
    probes: list[Probe] = field(default_factory=list)
    config: Config | None = None
    macros: list[Macro] = field(default_factory=list)
    map_decls: list[MapDecl] = field(default_factory=list)
    c_definitions: list[CDefinition] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
