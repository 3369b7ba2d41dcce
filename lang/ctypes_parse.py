"""C struct, union and enum definitions written in a script.

    struct foo { int a; char name[8]; struct task_struct *task; unsigned int flag:1; };

The parser hands these over as text (ast.CDefinition, kind "struct"); this
module lays them out with C's rules (natural alignment, bitfields packed
into units of their declared type, unions at offset 0, `packed` attribute)
and returns RecordTypes. Member types are language type names (`uint32`),
C spellings (`unsigned long`), earlier script structs, or kernel types from
BTF (`struct sock_common`, typedefs such as `pid_t`). Enum definitions give
integer constants.
"""

from __future__ import annotations

import re
from dataclasses import field
from pytrace.lang.records import record
from typing import Any

from pytrace.lang import ktypes
from pytrace.lang import types as T

_TOKEN = re.compile(r"\s*(?:(?P<word>[A-Za-z_]\w*)|(?P<num>0[xX][0-9a-fA-F]+|\d+)|(?P<punct>[{};,*\[\]:()=\-+]))")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_C_INT_WORDS = {"unsigned", "signed", "long", "short", "int", "char"}
_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "static", "extern", "register"}


class CTypeError(Exception):
    """A definition refused; `offset`, when set, is where in its text clang would report it."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


@record
class CDefinitions:
    structs: dict[str, T.RecordType] = field(default_factory=dict)  # "struct foo" -> type
    enums: dict[str, int] = field(default_factory=dict)  # enumerator -> value
    enum_types: dict[str, T.EnumType] = field(default_factory=dict)  # "enum foo" -> its type
    enumerator_enum: dict[str, str] = field(default_factory=dict)  # enumerator -> "enum foo"
    kernel: Any = None  # the lang.kernel_view.KernelView whose BTF has the kernel types named
    # A script struct redefines a kernel one: as in bpftrace (whose clang then gets no BTF
    # header), kernel structs are not complete types in the script's definitions.
    redefines_kernel: bool = False

    def lookup(self, name: str) -> T.Type | None:
        return self.structs.get(name) or self.enum_types.get(name)

    def enumerator_type(self, name: str) -> T.EnumType | None:
        """The type of an enumerator used as a value: its enum's, 64 bits wide (as bpftrace)."""
        key = self.enumerator_enum.get(name)
        if key is None:
            return None
        t = self.enum_types[key]
        return T.EnumType(64, False, t.enum_name, t.names)


def _tokens(text: str) -> tuple[list[str], list[int]]:
    """The definition's tokens and where each starts in the text."""
    text = _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)  # offsets kept
    out, offsets, pos = [], [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                break
            raise CTypeError(f"unexpected character '{text[pos:].strip()[0]}' in definition")
        out.append(m.group(m.lastgroup))
        offsets.append(m.start(m.lastgroup))
        pos = m.end()
    return out, offsets


def alignment(t: T.Type) -> int:
    if isinstance(t, (T.IntType, T.BoolType, T.PointerType)):
        return t.size
    if isinstance(t, T.StringType):
        return 1
    if isinstance(t, T.ArrayType):
        return alignment(t.elem)
    if isinstance(t, T.RecordType):
        if t.record_align:
            return t.record_align
        size = t.size or 1
        return min(8, size & -size)
    return max(1, min(8, t.size))


class _Parser:
    def __init__(self, tokens: list[str], offsets: list[int], defs: CDefinitions) -> None:
        self.toks, self.offsets, self.pos, self.defs = tokens, offsets, 0, defs
        self.kernel_record = ""  # the last base type was this kernel struct/union ("struct x")

    def peek(self, k: int = 0) -> str | None:
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise CTypeError(f"expected '{want}'" + (f" before '{tok}'" if tok else " at end of definition"))
        self.pos += 1
        return tok

    def skip_attributes(self) -> bool:
        packed = False
        while self.peek() == "__attribute__":
            self.take()
            depth, start = 0, self.pos
            while True:
                tok = self.take()
                depth += {"(": 1, ")": -1}.get(tok, 0)
                if depth == 0:
                    break
            packed = packed or "packed" in self.toks[start:self.pos]
        return packed

    # ------------------------------------------------------------ top level
    def definition(self) -> None:
        kind = self.take()
        tag = self.take() if self.peek() not in ("{", None) else ""
        if kind == "enum":
            self.enum_body(tag)
        else:
            self.record_body(kind, tag)
        self.skip_attributes()
        if self.peek() == ";":
            self.take()
        if self.peek() is not None:
            raise CTypeError(f"unexpected '{self.peek()}' after definition")

    def enum_body(self, tag: str) -> T.EnumType:
        self.take("{")
        value = 0
        key = f"enum {tag}" if tag else f"enum <anonymous {len(self.defs.enum_types)}>"
        names = []
        while self.peek() != "}":
            name = self.take()
            if self.peek() == "=":
                self.take()
                value = self.const_int()
            self.defs.enums[name] = value
            self.defs.enumerator_enum[name] = key
            names.append((value, name))
            value += 1
            if self.peek() == ",":
                self.take()
        self.take("}")
        self.defs.enum_types[key] = T.EnumType(32, False, key.removeprefix("enum "), tuple(names))
        return self.defs.enum_types[key]

    def const_int(self) -> int:
        sign = -1 if self.peek() == "-" and self.take() else 1
        tok = self.take()
        if tok in self.defs.enums:
            return sign * self.defs.enums[tok]
        try:
            return sign * int(tok, 0)
        except ValueError:
            raise CTypeError(f"expected an integer, found '{tok}'") from None

    def record_body(self, kind: str, tag: str) -> T.RecordType:
        self.take("{")
        members: list[tuple[str, T.Type, int | None]] = []
        while self.peek() != "}":
            members.extend(self.member_decl())
        self.take("}")
        packed = self.skip_attributes()
        name = f"{kind} {tag}" if tag else f"{kind} (anonymous)"
        record = _layout(name, members, kind == "union", packed)
        if tag:
            self.defs.structs[name] = record
        return record

    # ------------------------------------------------------------ members
    def base_type(self) -> T.Type:
        self.kernel_record = ""
        words = []
        while self.peek() in _QUALIFIERS:
            self.take()
        tok = self.peek()
        if tok in ("struct", "union", "enum"):
            kind = self.take()
            tag = self.take() if self.peek() != "{" else ""
            if self.peek() == "{":
                if kind == "enum":
                    return self.enum_body(tag)
                record = self.record_body(kind, tag)
                return record
            name = f"{kind} {tag}"
            if kind != "enum" and self.defs.lookup(name) is None:
                self.kernel_record = name
            return self.named(name)
        while self.peek() is not None and re.match(r"[A-Za-z_]", self.peek()):
            if words and not (set(words) <= _C_INT_WORDS and self.peek() in _C_INT_WORDS):
                break
            if self.peek() in _QUALIFIERS:
                self.take()
                continue
            words.append(self.take())
        if not words:
            raise CTypeError(f"expected a type, found '{tok}'")
        spelled = " ".join(words)
        spelled = {"unsigned": "unsigned int", "signed": "int", "long int": "long", "short int": "short",
                   "unsigned long int": "unsigned long", "long long int": "long long",
                   "long unsigned int": "unsigned long", "signed int": "int"}.get(spelled, spelled)
        return self.named(spelled)

    def named(self, name: str) -> T.Type:
        if name == "void":  # only behind a pointer: `void *p;`
            return T.VOID
        t = (T.INT_TYPE_NAMES.get(name) or T.OPAQUE_TYPE_NAMES.get(name) or self.defs.lookup(name)
             or self.kernel_type(name))
        if t is None:
            if name.startswith("enum "):
                return T.S32
            raise CTypeError(f"Cannot resolve unknown type \"{name}\"")
        return t

    def kernel_type(self, name: str) -> T.Type | None:
        return ktypes.named_type(name, self.defs.kernel.btf()) if self.defs.kernel else None

    def member_decl(self) -> list[tuple[str, T.Type, int | None]]:
        start = self.pos
        base = self.base_type()
        # Only arrays of plain `char` are strings (not of `unsigned char` or `uint8_t`), as in bpftrace.
        plain_char = [tok for tok in self.toks[start:self.pos] if tok not in _QUALIFIERS] == ["char"]
        out = []
        if self.peek() == ";":  # anonymous struct/union member
            self.take()
            return [("", base, None)]
        while True:
            t = base
            while self.peek() == "*":
                self.take()
                t = T.PointerType(t if not isinstance(t, T.VoidType) else None, "kernel")
            name = self.take()
            if t is base and self.kernel_record and self.defs.redefines_kernel:
                raise CTypeError(f"field has incomplete type '{self.kernel_record}'", self.offsets[self.pos - 1])
            dims = []
            while self.peek() == "[":
                self.take()
                dims.append(self.const_int() if self.peek() != "]" else 0)
                self.take("]")
            for n in reversed(dims):
                t = T.StringType(n) if plain_char and t is base and n else T.ArrayType(t, n)
            bits = None
            if self.peek() == ":":
                self.take()
                bits = self.const_int()
            self.skip_attributes()
            out.append((name, t, bits))
            if self.peek() == ",":
                self.take()
                continue
            if self.peek() != "}":  # C compilers accept a last member without its ';'
                self.take(";")
            return out


def _field_type(t: T.Type) -> T.Type:
    """A `char s[N]` member is read as a string of N + 1 bytes, as bpftrace
    types the C definitions of a script (well-formed when the byte after the
    field is a NUL: `char s[5]` holding "hello" prints hello). Its place in
    the struct still takes N bytes."""
    return T.StringType(t.length + 1) if isinstance(t, T.StringType) else t


def _layout(name: str, members: list[tuple[str, T.Type, int | None]], union: bool, packed: bool) -> T.RecordType:
    fields: dict[str, T.RecordField] = {}
    offset_bits, size, align = 0, 0, 1
    for mname, t, bits in members:
        a = 1 if packed else alignment(t)
        align = max(align, a)
        if union:
            offset_bits = 0
        if bits is not None:
            unit = t.size * 8
            # Start a new unit when the bitfield would straddle one.
            if not packed and bits and offset_bits // unit != (offset_bits + bits - 1) // unit:
                offset_bits = T.align_up(offset_bits, unit)
            byte = offset_bits // 8
            fields[mname] = T.RecordField(mname, byte, t, bitfield=(offset_bits % 8, bits))
            end_bits = offset_bits + bits
        else:
            offset_bits = T.align_up(offset_bits, a * 8)
            if mname:
                fields[mname] = T.RecordField(mname, offset_bits // 8, _field_type(t))
            elif isinstance(t, T.RecordType):  # anonymous struct/union: lift its members
                for f in t.all_fields():
                    fields[f.name] = T.RecordField(f.name, offset_bits // 8 + f.offset, f.type, f.bitfield)
            end_bits = offset_bits + t.size * 8
        size = max(size, (end_bits + 7) // 8)
        if not union:
            offset_bits = end_bits
    return T.RecordType(name, T.align_up(size, align), fields, record_align=align)


# Integer macros of kernel headers that bpftrace's tools rely on, known when
# a script #includes anything (types come from BTF; macros are not in BTF).
HEADER_MACROS = {
    "AF_UNSPEC": 0, "AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17,
    "TASK_RUNNING": 0, "TASK_INTERRUPTIBLE": 1, "TASK_UNINTERRUPTIBLE": 2,
    "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_CREAT": 0o100,
}
_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)\s+\(?\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))[uUlL]*\s*\)?\s*$")


def add_macros(defs: CDefinitions, defines: list[str], includes: bool) -> None:
    """`#define NAME <integer>` lines become constants; header macros too
    when the script includes headers."""
    if includes:
        for name, value in HEADER_MACROS.items():
            defs.enums.setdefault(name, value)
    for text in defines:
        m = _DEFINE.match(text.strip())
        if m:
            defs.enums[m[1]] = int(m[2], 0)


def parse_definitions(texts: list[str], kernel=None) -> tuple[CDefinitions, list[tuple[int, CTypeError]]]:
    """Parse each definition text (kernel types from `kernel`, a KernelView);
    returns the definitions and the errors as (index of the text, error)."""
    defs = CDefinitions(kernel=kernel)
    errors: list[tuple[int, CTypeError]] = []
    parsers = []
    for i, text in enumerate(texts):
        try:
            parsers.append((i, _Parser(*_tokens(text), defs)))
        except CTypeError as e:
            errors.append((i, e))
    defs.redefines_kernel = any(_redefines_kernel(p.toks, kernel) for _, p in parsers)
    for i, parser in parsers:
        try:
            parser.definition()
        except CTypeError as e:
            errors.append((i, e))
    return defs, sorted(errors, key=lambda e: e[0])


def _redefines_kernel(toks: list[str], kernel) -> bool:
    """`struct task_struct { ... }`: a definition of a struct or union the kernel's BTF has."""
    if kernel is None or len(toks) < 3 or toks[0] not in ("struct", "union") or toks[2] != "{":
        return False
    return ktypes.named_type(f"{toks[0]} {toks[1]}", kernel.btf()) is not None
