"""Integer constants of the system headers a script `#include`s.

bpftrace runs clang over a script's includes; pytrace takes kernel types
from BTF and needs only the headers' constants (EPERM, AF_INET, ICMP_ECHO,
DT_REG...). This is a small preprocessor of its own: it reads a header from
the system include directories (Debian's linux-libc-dev and libc6-dev),
follows its nested `#include <...>`s there, keeps the branches of
`#if/#ifdef/#ifndef/#elif/#else` that a C compiler for x86_64 would, and
collects

* object-like `#define NAME <integer expression>` (the expression may use
  other such macros), and
* the enumerators of `enum { A = 1, B, ... }` in the kept text (glibc's
  <dirent.h> defines DT_REG so).

Function-like macros, casts and anything else that is not an integer
expression are left out. A header that cannot be found is skipped.
"""

from __future__ import annotations

import os
import re
from functools import cache

INCLUDE_DIRS = ("/usr/include/x86_64-linux-gnu", "/usr/include")
# What a C compiler for x86_64 Linux predefines, as far as headers test it.
PREDEFINED = {
    "__x86_64__": "1", "__x86_64": "1", "__amd64__": "1", "__linux__": "1", "__linux": "1", "__unix__": "1",
    "__GNUC__": "12", "__GNUC_MINOR__": "2", "__STDC__": "1", "__STDC_VERSION__": "201710L", "__CHAR_BIT__": "8",
    "__SIZEOF_POINTER__": "8", "__SIZEOF_LONG__": "8", "__SIZEOF_INT__": "4", "__LP64__": "1", "_LP64": "1",
    "__ORDER_LITTLE_ENDIAN__": "1234", "__ORDER_BIG_ENDIAN__": "4321", "__BYTE_ORDER__": "1234",
    "__WORDSIZE": "64",
}
MAX_INCLUDE_DEPTH = 40

_INCLUDE = re.compile(r'#\s*include\s*[<"]([^>"]+)[>"]')
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*)$")
_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*"
                    r"|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()?:,])")
_INT_SUFFIX = re.compile(r"[uUlL]+$")
_ENUM = re.compile(r"\benum\s*(?:\w+\s*)?\{([^{}]*)\}")


def header_path(name: str, dirs: tuple[str, ...] = INCLUDE_DIRS) -> str | None:
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def _logical_lines(text: str) -> list[str]:
    """The text without comments, with backslash-continued lines joined."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return text.replace("\\\n", " ").split("\n")


# ---------------------------------------------------------------- integer expressions


class _Expr:
    """An integer constant expression over macros, as #if and #define bodies use them."""

    def __init__(self, text: str, lookup, in_if: bool) -> None:
        self.tokens = self.tokenize(text)
        self.pos = 0
        self.lookup = lookup  # name -> int | None
        self.in_if = in_if  # in #if, unknown names are 0 and `defined` is allowed

    @staticmethod
    def tokenize(text: str) -> list[str]:
        tokens, pos = [], 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise ValueError(text[pos:])
            tokens.append(m.group(1))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        return tokens

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if not tok or (want is not None and tok != want):
            raise ValueError(want or "end")
        self.pos += 1
        return tok

    def value(self) -> int:
        v = self.ternary()
        if self.pos != len(self.tokens):
            raise ValueError(self.peek())
        return v

    def ternary(self) -> int:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        a = self.ternary()
        self.take(":")
        b = self.ternary()
        return a if cond else b

    _LEVELS = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="), ("<<", ">>"),
               ("+", "-"), ("*", "/", "%")]
    _OPS = {
        "||": lambda a, b: int(bool(a) or bool(b)), "&&": lambda a, b: int(bool(a) and bool(b)),
        "|": lambda a, b: a | b, "^": lambda a, b: a ^ b, "&": lambda a, b: a & b,
        "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b), "<": lambda a, b: int(a < b),
        "<=": lambda a, b: int(a <= b), ">": lambda a, b: int(a > b), ">=": lambda a, b: int(a >= b),
        "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b, "+": lambda a, b: a + b, "-": lambda a, b: a - b,
        "*": lambda a, b: a * b, "/": lambda a, b: int(a / b), "%": lambda a, b: a - int(a / b) * b,
    }

    def binary(self, level: int) -> int:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            op = self.take()
            left = self._OPS[op](left, self.binary(level + 1))
        return left

    def unary(self) -> int:
        tok = self.take()
        if tok == "-":
            return -self.unary()
        if tok == "+":
            return self.unary()
        if tok == "~":
            return ~self.unary()
        if tok == "!":
            return int(not self.unary())
        if tok == "(":
            v = self.ternary()
            self.take(")")
            return v
        if tok[0].isdigit():
            digits = _INT_SUFFIX.sub("", tok)
            return int(digits, 8) if re.fullmatch(r"0\d+", digits) else int(digits, 0)
        if tok == "defined" and self.in_if:
            paren = self.peek() == "("
            if paren:
                self.take("(")
            name = self.take()
            if paren:
                self.take(")")
            return int(self.lookup(name, defined=True) is not None)
        if tok[0].isalpha() or tok[0] == "_":
            if self.peek() == "(" and self.in_if:  # a function-like macro (__GNUC_PREREQ (4, 1)...): 0
                depth = 0
                while True:
                    t = self.take()
                    depth += {"(": 1, ")": -1}.get(t, 0)
                    if depth == 0:
                        break
                return 0
            v = self.lookup(tok)
            if v is None:
                if self.in_if:
                    return 0
                raise ValueError(tok)
            return v
        raise ValueError(tok)


# ---------------------------------------------------------------- the preprocessor


class _Preprocessor:
    def __init__(self, dirs: tuple[str, ...]) -> None:
        self.dirs = dirs
        self.macros: dict[str, str | None] = dict(PREDEFINED)  # name -> body (None: function-like)
        self.enums: dict[str, int] = {}
        self.seen: set[str] = set()
        self._evaluating: set[str] = set()

    def lookup(self, name: str, defined: bool = False) -> int | bool | None:
        if defined:
            return True if name in self.macros else None
        if name in self.enums:
            return self.enums[name]
        body = self.macros.get(name)
        if body is None or name in self._evaluating:
            return None
        self._evaluating.add(name)
        try:
            return _Expr(body, self.lookup, in_if=False).value() if body.strip() else None
        except (ValueError, ZeroDivisionError):
            return None
        finally:
            self._evaluating.discard(name)

    def condition(self, text: str) -> bool:
        try:
            return bool(_Expr(text, self.lookup, in_if=True).value())
        except (ValueError, ZeroDivisionError):
            return False

    def include(self, name: str, depth: int = 0) -> None:
        path = header_path(name, self.dirs)
        if path is None or path in self.seen or depth > MAX_INCLUDE_DEPTH:
            return
        self.seen.add(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = _logical_lines(f.read())
        except OSError:
            return
        self.run(lines, depth)

    def run(self, lines: list[str], depth: int = 0, on_include=None, on_kept=None) -> None:
        """Preprocess lines: directives act, the kept text's enums are read.
        on_include(index, name) is told of each #include in kept lines,
        on_kept(index) of each kept line that is not a directive."""
        kept: list[str] = []
        stack: list[tuple[bool, bool]] = []  # (this branch is active, a branch was taken)

        def active() -> bool:
            return all(a for a, _ in stack)

        for index, line in enumerate(lines):
            m = _DIRECTIVE.match(line)
            if m is None:
                if active():
                    kept.append(line)
                    if on_kept is not None:
                        on_kept(index)
                continue
            word, rest = m.group(1), m.group(2).strip()
            if word in ("if", "ifdef", "ifndef"):
                if not active():
                    stack.append((False, True))
                    continue
                if word == "if":
                    ok = self.condition(rest)
                else:
                    ok = (rest.split()[0] if rest else "") in self.macros
                    ok = ok if word == "ifdef" else not ok
                stack.append((ok, ok))
            elif word == "elif" and stack:
                _, taken = stack.pop()
                parent = active()
                ok = parent and not taken and self.condition(rest)
                stack.append((ok, taken or ok))
            elif word == "else" and stack:
                _, taken = stack.pop()
                stack.append((active() and not taken, True))
            elif word == "endif" and stack:
                stack.pop()
            elif not active():
                continue
            elif word == "define":
                self.define(rest)
            elif word == "undef":
                self.macros.pop(rest.split()[0] if rest else "", None)
            elif word == "include":
                inc = _INCLUDE.match("#include " + rest)
                if inc:
                    if on_include is not None:
                        on_include(index, inc.group(1))
                    self.include(inc.group(1), depth + 1)
        self.read_enums("\n".join(kept))

    def define(self, rest: str) -> None:
        m = re.match(r"([A-Za-z_]\w*)(\()?", rest)
        if m is None:
            return
        name = m.group(1)
        self.macros[name] = None if m.group(2) else rest[m.end():].strip()

    def read_enums(self, text: str) -> None:
        for m in _ENUM.finditer(text):
            nxt = 0
            for item in m.group(1).split(","):
                item = item.strip()
                if not item:
                    continue
                name, _, expr = item.partition("=")
                name = name.strip()
                if not re.fullmatch(r"[A-Za-z_]\w*", name):
                    break
                if expr.strip():
                    try:
                        nxt = _Expr(expr, self.lookup, in_if=False).value()
                    except (ValueError, ZeroDivisionError):
                        break
                self.enums[name] = nxt
                nxt += 1

    def constants(self) -> dict[str, int]:
        out = dict(self.enums)
        for name, body in self.macros.items():
            # __NR_nanosleep is a constant a script uses; __GNUC__-style names are the compiler's
            if body is None or name in PREDEFINED or (name.startswith("__") and name.endswith("__")) or name in out:
                continue
            value = self.lookup(name)
            if value is not None and not isinstance(value, bool):
                out[name] = value
        return out


@cache
def _header_constants(names: tuple[str, ...], dirs: tuple[str, ...]) -> dict[str, int]:
    pp = _Preprocessor(dirs)
    for name in names:
        pp.include(name)
    return pp.constants()


def kept_lines(lines: list[str], have_btf: bool, dirs: tuple[str, ...] = INCLUDE_DIRS) -> set[int]:
    """Which of a script's lines that are not directives its #if/#ifdef lines keep
    (a struct inside `#ifndef BPFTRACE_HAVE_BTF` is gone when the kernel has BTF)."""
    pp = _Preprocessor(dirs)
    if have_btf:
        pp.macros["BPFTRACE_HAVE_BTF"] = "1"
    kept: set[int] = set()
    pp.run([" ".join(_logical_lines(line)) for line in lines], on_include=lambda *_: None, on_kept=kept.add)
    return kept


def script_constants(lines: list[str], have_btf: bool,
                     dirs: tuple[str, ...] = INCLUDE_DIRS) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """A script's preprocessor lines, in order, as one header would be read
    (BPFTRACE_HAVE_BTF is defined when the kernel has BTF, as bpftrace does):
    the constants of its kept #defines and #includes, and the headers that
    could not be found as (index of the line, name)."""
    pp = _Preprocessor(dirs)
    if have_btf:
        pp.macros["BPFTRACE_HAVE_BTF"] = "1"
    missing: list[tuple[int, str]] = []

    def found(index: int, name: str) -> None:
        if header_path(name, dirs) is None:
            missing.append((index, name))

    pp.run([" ".join(_logical_lines(line)) for line in lines], on_include=found)
    pp.macros.pop("BPFTRACE_HAVE_BTF", None)
    return pp.constants(), missing


def include_names(texts: list[str]) -> list[str]:
    """The headers `#include <...>` lines name."""
    return [m.group(1) for m in (_INCLUDE.match(t.strip()) for t in texts) if m]


def header_constants(includes: list[str], dirs: tuple[str, ...] = INCLUDE_DIRS) -> dict[str, int]:
    """The integer constants of these headers (names as written in `#include <NAME>`),
    found in the directories `dirs`."""
    return dict(_header_constants(tuple(includes), tuple(dirs)))
