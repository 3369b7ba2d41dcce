"""The parser driver: program text -> lang.ast.Program, or diagnostics.

    program = parse(Source("stdin", text), diags)   # None after an error

The surface syntax lives in grammar/pytrace.lark (lark, LALR, contextual
lexer). The Lark object is built once, lazily, and cached on disk in a
private directory (~/.cache/pytrace, or $XDG_CACHE_HOME/pytrace), so later
runs load the parse table instead of recomputing it.

A syntax error is recorded as one diagnostic in bpftrace's words:

    stdin:1:21-23: ERROR: syntax error, unexpected map, expecting ; or }

bpftrace's bison parser reported the state reached after its default
reductions; `_expected` replays those reductions on lark's parse stack so the
"expecting" lists come out the same (at most four tokens, as bison does).
Literal errors (bad integers, bad string escapes, `$0`) are recorded for each
literal. Nothing here raises for user input.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections import Counter
from typing import Any

from pytrace.lang import ast
from pytrace.lang.diagnostics import Diagnostics
from pytrace.lang.source import Source, Span

_GRAMMAR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "grammar", "pytrace.lark")
_lark: Any = None  # the lark.Lark object, built on first use
_PICKLE_FORMAT = 2  # what the pickled Lark object holds: 2, with its lexer's scanners compiled


def parse(source: Source, diags: Diagnostics) -> ast.Program | None:
    """Parse a whole program. On an error, record it in `diags`; return None."""
    lark_parser = _parser()
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    try:
        tree = lark_parser.parse(source.text)
    except UnexpectedToken as e:
        _report(source, diags, e.token.start_pos or 0, e.token, e.state)
        return None
    except UnexpectedCharacters as e:
        _report(source, diags, e.pos_in_stream)
        return None
    except UnexpectedInput as e:  # not expected from the LALR parser
        pos = getattr(e, "pos_in_stream", None) or 0
        diags.error("syntax error", source.span(pos, pos + 1))
        return None
    n_errors = len(diags.errors)
    program = _Builder(source, diags).transform(tree)
    return None if len(diags.errors) > n_errors else program


def _parser() -> Any:
    """The Lark object: unpickled from this user's cache when the grammar, lark and
    Python are the ones it was made with, else built (from lark's own cache of the
    parse tables) and pickled for the next run. Unpickling the whole object takes
    ~5 ms; lark's cache loads in ~16 ms, most of it rebuilding each rule, symbol and
    parse-table entry from its serialized form in Python code. The pickle holds the
    lexer's scanners compiled (_save_pickled)."""
    global _lark
    if _lark is None:
        lark = _import_lark()
        with open(_GRAMMAR, encoding="utf-8") as f:
            grammar = f.read()
        cache = _cache_file(lark.__version__)
        pickled = _pickle_file(cache, grammar, lark.__version__)
        _lark = _load_pickled(pickled)
        if _lark is None:
            _lark = lark.Lark(
                grammar,
                parser="lalr",
                lexer="contextual",
                propagate_positions=True,
                maybe_placeholders=False,
                cache=cache,
            )
            _save_pickled(pickled, _lark)
    return _lark


def _pickle_file(cache: str | bool, grammar: str, lark_version: str) -> str | None:
    """Where the pickled Lark object for this grammar, lark and Python lives (beside
    lark's cache, in the directory _cache_file checked), or None."""
    if not cache:
        return None
    import hashlib

    key = hashlib.sha256(f"{grammar}\0{lark_version}\0{sys.version}\0{_PICKLE_FORMAT}".encode()).hexdigest()[:32]
    return os.path.join(os.path.dirname(cache), f"grammar-{key}.pickle")


def _load_pickled(path: str | None) -> Any:
    if path is None:
        return None
    import pickle

    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # missing, or made by something else: build it again
        return None


def _save_pickled(path: str | None, lark_parser: Any) -> None:
    """Pickle the Lark object with every lexer's scanner built: the contextual lexer
    compiles one alternation of the terminals a parser state accepts, lazily, on the
    first parse that reaches that state (~7 ms of `re` for a one-liner, every process).
    Built once here (~35 ms) and pickled as compiled patterns (see _compiled_pattern),
    a later process's first parse compiles no regular expression."""
    if path is None:
        return
    import io
    import pickle

    lexer = lark_parser.parser.lexer
    for basic in [*getattr(lexer, "lexers", {}).values(), getattr(lexer, "root_lexer", lexer)]:
        basic.scanner  # noqa: B018 - builds and keeps it
    buf = io.BytesIO()
    try:
        _lark_pickler()(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(lark_parser)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(buf.getvalue())
        os.replace(tmp, path)
        directory, name = os.path.split(path)
        for old in os.listdir(directory):  # other grammars' (a development checkout's edits)
            if old.startswith("grammar-") and old.endswith(".pickle") and old != name:
                os.unlink(os.path.join(directory, old))
    except Exception:  # not picklable with another lark, or no room: the next run builds it again
        pass


def _compiled_pattern(pattern: str, flags: int, code: bytes, groups: int, groupindex: dict) -> re.Pattern:
    """A compiled regular expression from the program `re` compiled it to (`_pattern_code`):
    what re.compile() ends with, without its parser and compiler, which are Python code.
    The pickle holding it is only read by the Python that wrote it (its name hashes
    sys.version), and a pattern went into it only if rebuilding it gave an equal one."""
    import _sre
    from array import array

    indexgroup = [None] * (groups + 1)
    for name, index in groupindex.items():
        indexgroup[index] = name
    return _sre.compile(pattern, flags, array("I", code).tolist(), groups, groupindex, tuple(indexgroup))


def _pattern_code(compiled: re.Pattern) -> tuple | None:
    """_compiled_pattern's arguments for a compiled pattern, or None if that would not
    give the same pattern (Patterns compare equal when their pattern, flags and code do)."""
    from array import array

    try:
        parsed = re._parser.parse(compiled.pattern, compiled.flags)  # type: ignore[attr-defined]
        code = re._compiler._code(parsed, compiled.flags)  # type: ignore[attr-defined]
        args = (compiled.pattern, compiled.flags | parsed.state.flags, array("I", code).tobytes(),
                parsed.state.groups - 1, dict(parsed.state.groupdict))
        return args if _compiled_pattern(*args) == compiled else None
    except Exception:  # another Python's `re` internals: pickle it as a pattern to compile
        return None


def _lark_action(name: str) -> Any:
    """lark's LALR actions (Shift, Reduce) are compared by identity: unpickled, they
    are lark's own objects again."""
    from lark.parsers import lalr_analysis

    return getattr(lalr_analysis, name)


def _lark_pickler() -> type:
    import pickle
    import types

    from lark.parsers.lalr_analysis import Action

    class LarkPickler(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, Action):
                return _lark_action, (obj.name,)
            if isinstance(obj, types.ModuleType):  # the lexer's `re`
                return importlib.import_module, (obj.__name__,)
            if isinstance(obj, re.Pattern):  # the lexer's scanners
                args = _pattern_code(obj)
                return NotImplemented if args is None else (_compiled_pattern, args)
            return NotImplemented

    return LarkPickler


def _import_lark() -> Any:
    """Import lark without letting it import the `regex` module, which it
    only uses to measure regexps while building a grammar (with the same
    result as `re` for this one); that saves ~10 ms of startup. This process
    then cannot use lark's `regex=True` option, which pytrace does not."""
    if "lark" in sys.modules or "regex" in sys.modules:
        import lark

        return lark
    sys.modules["regex"] = None  # type: ignore[assignment]  # makes `import regex` fail
    try:
        import lark
    finally:
        del sys.modules["regex"]
    return lark


def _cache_file(lark_version: str) -> str | bool:
    """A cache file in a directory only this user can write; lark checks the
    grammar's hash in it and rebuilds when it is stale."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "pytrace")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return False  # someone else could plant a pickle there
    except OSError:
        return False
    return os.path.join(directory, f"grammar-lark{lark_version}.cache")


# ------------------------------------------------------------------ tree -> AST


class _Builder:
    """Builds lang.ast nodes bottom-up from lark's tree. One method per rule
    (or alias) of the grammar, called with the tree's meta and children."""

    def __init__(self, source: Source, diags: Diagnostics) -> None:
        self.source = source
        self.diags = diags

    def transform(self, tree: Any) -> Any:
        from lark import Tree

        # Iterative post-order walk (deeply nested expressions must not hit
        # Python's recursion limit).
        stack: list[tuple[Any, bool]] = [(tree, False)]
        results: list[Any] = []
        while stack:
            node, visited = stack.pop()
            if not isinstance(node, Tree):
                results.append(node)
            elif not visited:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children))
            else:
                n = len(node.children)
                children = results[len(results) - n:] if n else []
                del results[len(results) - n:]
                results.append(getattr(self, node.data)(node.meta, children))
        return results[0]

    # Spans ------------------------------------------------------------------

    def _span(self, meta: Any) -> Span:
        return self.source.span(meta.start_pos, meta.end_pos)

    def _postfix_span(self, operand: ast.Expr, meta: Any) -> Span:
        """`e.f`, `e->f`, `e.N`, `e[i]`: from where e begins, parentheses around it left out (bpftrace's place)."""
        span = getattr(operand, "span", None)
        inside = span is not None and span.source is self.source and meta.start_pos <= span.start < meta.end_pos
        return self.source.span(span.start if inside else meta.start_pos, meta.end_pos)

    def _tok_span(self, tok: Any) -> Span:
        return self.source.span(tok.start_pos, tok.end_pos)

    @staticmethod
    def _nodes(children: list) -> list:
        """The children that are AST nodes (not punctuation tokens)."""
        from lark import Token

        return [c for c in children if not isinstance(c, Token)]

    # Top level --------------------------------------------------------------

    def start(self, meta: Any, children: list) -> ast.Program:
        program = ast.Program(span=self.source.span(0, len(self.source.text)))
        for child in self._nodes(children):
            if isinstance(child, ast.Probe):
                program.probes.append(child)
            elif isinstance(child, ast.CDefinition):
                program.c_definitions.append(child)
            elif isinstance(child, ast.Config) and program.config is not None:
                self.diags.error("duplicate config block", self.source.span(child.span.start, child.span.start + 6))
            elif isinstance(child, ast.Config):
                program.config = child
            elif isinstance(child, ast.Macro):
                program.macros.append(child)
            elif isinstance(child, ast.MapDecl):
                program.map_decls.append(child)
            elif isinstance(child, ast.Import):
                program.imports.append(child)
        return program

    def c_definition(self, meta: Any, children: list) -> ast.CDefinition:
        (tok,) = children
        text = tok.value.rstrip()
        if tok.type == "STRUCT_DEFN":
            kind = "struct"
        else:
            kind = "include" if re.match(r"#\s*include\b", text) else "define"
        return ast.CDefinition(kind, text, span=self.source.span(tok.start_pos, tok.start_pos + len(text)))

    def root_import(self, meta: Any, children: list) -> ast.Import:
        path = children[-1]
        return ast.Import(self._string(path), span=self.source.span(meta.start_pos, path.end_pos))

    def config(self, meta: Any, children: list) -> ast.Config:
        return ast.Config(self._nodes(children), span=self._span(meta))

    def config_assign(self, meta: Any, children: list) -> ast.ConfigAssign:
        name, value = children
        return ast.ConfigAssign(name.value, value, span=self._span(meta))

    def map_decl(self, meta: Any, children: list) -> ast.MapDecl:
        name, kind, size = children
        value = self._int(size)
        return ast.MapDecl(name.value, kind.value, value, span=self._span(meta))

    def macro(self, meta: Any, children: list) -> ast.Macro:
        name, *params, body = children
        return ast.Macro(name.value, params, body, span=self._span(meta))

    def probe(self, meta: Any, children: list) -> ast.Probe:
        attach_points, *predicate, block = children
        return ast.Probe(attach_points, predicate[0] if predicate else None, block, span=self._span(meta))

    def attach_points(self, meta: Any, children: list) -> list[ast.AttachPoint]:
        return children

    def attach_point(self, meta: Any, children: list) -> ast.AttachPoint:
        (tok,) = children
        return ast.AttachPoint(tok.value, span=self._tok_span(tok))

    def predicate(self, meta: Any, children: list) -> ast.Expr:
        return children[1]  # SLASH expr ENDPRED

    # Statements -------------------------------------------------------------

    def block(self, meta: Any, children: list) -> ast.Block:
        return ast.Block(self._nodes(children), span=self._span(meta))

    angle_block = block

    def block_expr(self, meta: Any, children: list) -> ast.BlockExpr:
        return self._value_block(self._nodes(children), self._span(meta))

    def _value_block(self, stmts: list, span: Span) -> ast.BlockExpr:
        """A block used as a value: its last statement, when it is an
        expression, a block or an `if` with no `;` after it, is the value."""
        last = stmts[-1] if stmts else None
        if last is None or not _LAYOUT_RE.fullmatch(self.source.text, last.span.end, span.end - 1):
            return ast.BlockExpr(stmts, None, span=span)
        value = self._value_of(last)
        return ast.BlockExpr(stmts if value is None else stmts[:-1], value, span=span)

    def _value_of(self, stmt: ast.Stmt) -> ast.Expr | None:
        if isinstance(stmt, ast.ExprStmt):
            return stmt.expr
        if isinstance(stmt, ast.Block):
            return self._value_block(stmt.stmts, stmt.span)
        if isinstance(stmt, ast.If):
            otherwise = stmt.otherwise and (self._value_of(stmt.otherwise) if isinstance(stmt.otherwise, ast.If)
                                            else self._value_block(stmt.otherwise.stmts, stmt.otherwise.span))
            return ast.IfExpr(stmt.cond, self._value_block(stmt.then.stmts, stmt.then.span), otherwise,
                              span=stmt.span)
        return None

    value_block = block_expr

    def if_expr(self, meta: Any, children: list) -> ast.IfExpr:
        cond, then, *otherwise = self._nodes(children)
        return ast.IfExpr(cond, then, otherwise[0] if otherwise else None, span=self._span(meta))

    def discard(self, meta: Any, children: list) -> ast.Discard:
        return ast.Discard(children[-1], span=self._span(meta))

    def assign(self, meta: Any, children: list) -> ast.Stmt:
        target, value = children
        if isinstance(target, ast.Map) and isinstance(value, ast.BlockExpr) and isinstance(value.value, ast.Call):
            # `@ = { let $a = 1; avg($a) }` runs as `{ let $a = 1; @ = avg($a) }`,
            # so a map can take an aggregation's value from a block.
            inner = ast.Assign(target, value.value, span=self._span(meta))
            return ast.Block([*value.stmts, inner], span=self._span(meta))
        return ast.Assign(target, value, span=self._span(meta))

    def compound_assign(self, meta: Any, children: list) -> ast.Assign:
        target, op, value = children
        return ast.Assign(target, value, op=op.value[:-1], span=self._span(meta))

    def var_decl(self, meta: Any, children: list) -> ast.VarDecl:
        var, *rest = children
        type_name = next((c for c in rest if isinstance(c, ast.TypeName)), None)
        value = next((c for c in rest if isinstance(c, ast.Expr)), None)
        return ast.VarDecl(var, type_name, value, span=self._span(meta))

    def jump(self, meta: Any, children: list) -> ast.Jump:
        kind, *value = children
        return ast.Jump(kind.value, value[0] if value else None, span=self._span(meta))

    def expr_stmt(self, meta: Any, children: list) -> ast.ExprStmt:
        return ast.ExprStmt(children[0], span=self._span(meta))

    def if_stmt(self, meta: Any, children: list) -> ast.If:
        cond, then, *otherwise = self._nodes(children)
        return ast.If(cond, then, otherwise[0] if otherwise else None, span=self._span(meta))

    def while_stmt(self, meta: Any, children: list) -> ast.While:
        return ast.While(children[0], children[1], span=self._span(meta))

    def unroll_stmt(self, meta: Any, children: list) -> ast.Unroll:
        return ast.Unroll(children[0], children[1], span=self._span(meta))

    def for_stmt(self, meta: Any, children: list) -> ast.For:
        var, iterable, body = children
        return ast.For(var, iterable, body, span=self._span(meta))

    def range(self, meta: Any, children: list) -> ast.Range:
        return ast.Range(children[0], children[1], span=self._span(meta))

    # Expressions ------------------------------------------------------------

    def ternary(self, meta: Any, children: list) -> ast.Ternary:
        return ast.Ternary(*children, span=self._span(meta))

    def elvis(self, meta: Any, children: list) -> ast.Ternary:
        """`a ?: b` is `a ? a : b` (bpftrace evaluates `a` twice)."""
        from pytrace.lang.passes.macros import clone

        cond, other = self._nodes(children)
        return ast.Ternary(cond, clone(cond), other, span=self._span(meta))

    def binop(self, meta: Any, children: list) -> ast.Binop:
        left, op, right = children
        return ast.Binop(op.value, left, right, span=self._span(meta))

    def unop(self, meta: Any, children: list) -> ast.Unop:
        op, operand = children
        return ast.Unop(op.value, operand, span=self._span(meta))

    def pre_increment(self, meta: Any, children: list) -> ast.Increment:
        op, target = children
        return ast.Increment(target, op.value, prefix=True, span=self._span(meta))

    def post_increment(self, meta: Any, children: list) -> ast.Increment:
        target, op = children
        return ast.Increment(target, op.value, prefix=False, span=self._span(meta))

    def cast(self, meta: Any, children: list) -> ast.Cast:
        return ast.Cast(children[0], children[1], span=self._span(meta))

    def typedef_cast(self, meta: Any, children: list) -> ast.Cast:
        tok, operand = children
        return ast.Cast(self._typedef(tok), operand, span=self._span(meta))

    def _typedef(self, tok: Any) -> ast.TypeName:
        """TypeName of a `(name)` or `(name **)` token, spanning `name **`."""
        m = re.match(r"\(\s*([A-Za-z_]\w*)\s*([\s*]*?)\s*\)$", tok.value)
        assert m is not None
        start = tok.start_pos + m.start(1)
        end = tok.start_pos + (m.end(2) if m.group(2) else m.end(1))
        return ast.TypeName(m.group(1), m.group(2).count("*"), span=self.source.span(start, end))

    def paren_ident(self, meta: Any, children: list) -> ast.Identifier:
        t = self._typedef(children[0])
        return ast.Identifier(t.name, span=t.span)

    def field(self, meta: Any, children: list) -> ast.FieldAccess:
        operand, name = children
        return ast.FieldAccess(operand, name.value, span=self._postfix_span(operand, meta))

    def arrow(self, meta: Any, children: list) -> ast.FieldAccess:
        operand, _, name = children
        return ast.FieldAccess(operand, name.value, arrow=True, span=self._postfix_span(operand, meta))

    def tuple_index(self, meta: Any, children: list) -> ast.TupleIndex:
        operand, index = children
        return ast.TupleIndex(operand, self._int(index), span=self._postfix_span(operand, meta))

    def index(self, meta: Any, children: list) -> ast.Index:
        return ast.Index(children[0], children[1], span=self._postfix_span(children[0], meta))

    def call(self, meta: Any, children: list) -> ast.Call:
        name, *args = children
        return ast.Call(name.value, args, span=self._span(meta))

    def tuple(self, meta: Any, children: list) -> ast.Tuple:
        return ast.Tuple(children, span=self._span(meta))

    def record(self, meta: Any, children: list) -> ast.Record:
        fields = self._nodes(children)
        seen: set[str] = set()
        for name, _value, span in fields:
            if name in seen:
                self.diags.error(f"Named argument list already contains name: {name}", span)
            seen.add(name)
        return ast.Record([f[0] for f in fields], [f[1] for f in fields], span=self._span(meta))

    def record_field(self, meta: Any, children: list) -> tuple:
        name, value = children[0], children[-1]
        return (name.value, value, self._span(meta))

    def sizeof(self, meta: Any, children: list) -> ast.Sizeof:
        (arg,) = children
        if not isinstance(arg, ast.Node):  # a (name) or (name *) token
            arg = self.paren_ident(None, [arg]) if arg.type == "PAREN_IDENT" else self._typedef(arg)
        return ast.Sizeof(arg, span=self._span(meta))

    def offsetof(self, meta: Any, children: list) -> ast.Offsetof:
        of, *path = children
        return ast.Offsetof(of, [t.value for t in path], span=self._span(meta))

    def integer(self, meta: Any, children: list) -> ast.Integer:
        (tok,) = children
        return ast.Integer(self._int(tok), tok.value, span=self._span(meta))

    def string(self, meta: Any, children: list) -> ast.String:
        (tok,) = children
        return ast.String(self._string(tok), span=self._span(meta))

    def boolean(self, meta: Any, children: list) -> ast.Boolean:
        return ast.Boolean(children[0].value == "true", span=self._span(meta))

    def ident(self, meta: Any, children: list) -> ast.Identifier:
        return ast.Identifier(children[0].value, span=self._span(meta))

    def var(self, meta: Any, children: list) -> ast.Variable:
        return ast.Variable(children[0].value, span=self._span(meta))

    def map(self, meta: Any, children: list) -> ast.Map:
        name, *keys = children
        return ast.Map(name.value, keys, span=self._span(meta))

    def param(self, meta: Any, children: list) -> ast.PositionalParam:
        (tok,) = children
        index = 0 if tok.value == "$#" else int(tok.value[1:])
        if tok.value != "$#" and not 1 <= index <= 2**63 - 1:
            self.diags.error(f"param {tok.value} is out of integer range [1, {2**63 - 1}]", self._tok_span(tok))
        return ast.PositionalParam(index, span=self._span(meta))

    # Types --------------------------------------------------------------------

    def named_pointer(self, meta: Any, children: list) -> ast.TypeName:
        tok = children[0]
        name = re.match(r"\w+", tok.value).group(0)
        return ast.TypeName(name, tok.value.count("*"), span=self._span(meta))

    def typeof(self, meta: Any, children: list) -> ast.TypeName:
        return ast.TypeName("typeof", 0, self._nodes(children)[0], span=self._span(meta))

    def type_name(self, meta: Any, children: list) -> ast.TypeName:
        words, array, pointer = [], "", 0
        if isinstance(children[0], ast.TypeName):  # typeof(...) *
            inner = children[0]
            return ast.TypeName(inner.name, inner.pointer + len(children) - 1, inner.of, span=self._span(meta))
        for c in children:
            if isinstance(c, str) and not hasattr(c, "type"):
                array = " " + "*" * pointer + c if pointer else c  # from type_array; `T *[N]`: of pointers
                pointer = 0 if pointer else pointer
            elif c.type == "STAR":
                pointer += 1
            else:
                words.append(c.value)
        return ast.TypeName(" ".join(words) + array, pointer, span=self._span(meta))

    def type_array(self, meta: Any, children: list) -> str:
        return f"[{self._int(children[0])}]" if children else "[]"

    # Literals -----------------------------------------------------------------

    def _int(self, tok: Any) -> int:
        value, error = parse_int(tok.value)
        if error:
            self.diags.error(error, self._tok_span(tok))
        return value

    def _string(self, tok: Any) -> str:
        value, errors = decode_string(tok.value[1:-1])
        for start, end, message in errors:
            pos = tok.start_pos + 1
            self.diags.error(message, self.source.span(pos + start, pos + end))
        return value


_LAYOUT_RE = re.compile(r"(?:\s|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")  # what %ignore skips
_INT_RE = re.compile(
    r"(?:0[xX](?P<hex>[0-9a-fA-F_]+)|0[bB](?P<bin>[01_]+)"
    r"|(?P<dec>[0-9][0-9_]*)(?:[eE](?P<exp>[0-9][0-9_]*))?)(?P<suffix>[A-Za-z]\w*)?"
)
_U64 = 2**64 - 1
# suffix -> (maximum value, multiplier), as bpftrace's util::to_uint has them.
_SUFFIXES = {
    "": (_U64, 1), "u": (2**32 - 1, 1), "ul": (_U64, 1), "ull": (_U64, 1),
    "l": (2**63 - 1, 1), "ll": (2**63 - 1, 1),
    "ns": (_U64, 1), "us": (_U64, 1000), "ms": (_U64, 10**6), "s": (_U64, 10**9),
    "m": (_U64, 60 * 10**9), "h": (_U64, 3600 * 10**9), "d": (_U64, 86400 * 10**9),
}


def parse_int(raw: str) -> tuple[int, str | None]:
    """An integer literal's value, and an error message (or None): hex `0x1F`,
    binary `0b101`, octal `0777`, `_` separators, `1e6`, and bpftrace's
    suffixes (u, l, ul, ll, ull; durations ns us ms s m h d)."""
    m = _INT_RE.fullmatch(raw)
    if m is None:
        return 0, f"invalid integer: {raw}"
    digits = m.group("hex") or m.group("bin") or m.group("dec")
    exp, suffix = m.group("exp"), m.group("suffix") or ""
    if digits.endswith("_") or (exp or "").endswith("_"):
        return 0, "trailing underscore in integer literal"
    if suffix and (m.group("hex") or m.group("bin")):
        return 0, f"invalid integer suffix '{suffix}'"
    key = suffix.lower() if re.fullmatch(r"[uUlL]+", suffix) else suffix
    if key not in _SUFFIXES:
        return 0, f"invalid integer suffix '{suffix}'"
    digits = digits.replace("_", "")
    if len(digits.lstrip("0")) > 70 or len(exp or "") > 10:
        return 0, f"overflow error, maximum value is {_SUFFIXES[key][0]}: {raw}"
    try:
        if m.group("hex"):
            value = int(digits, 16)
        elif m.group("bin"):
            value = int(digits, 2)
        elif len(digits) > 1 and digits[0] == "0" and not exp:
            value = int(digits[1:], 8)
        else:
            value = int(digits, 10)
    except ValueError:
        return 0, f"invalid integer: {raw}"
    if exp:
        if not 1 <= value <= 9:
            return 0, f"coefficient part of scientific literal must be 1-9: {raw}"
        value *= 10 ** min(int(exp.replace("_", "")), 30)
    maximum, multiplier = _SUFFIXES[key]
    if value > maximum // multiplier:
        return 0, f"overflow error, maximum value is {maximum}: {raw}"
    return value * multiplier, None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(?:([0-7]{1,3})|[xX]([0-9a-fA-F]{0,2})|(.))", re.S)


def _byte(n: int) -> str:
    """An escaped byte: bytes >= 0x80 become surrogate escapes, so the string
    encodes back to exactly that byte (utf-8 with errors="surrogateescape")."""
    return chr(n) if n < 0x80 else chr(0xDC00 + n)


def decode_string(body: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Decode C escapes in a string literal's body (the text between the
    quotes). Returns the value and a list of (start, end, message) errors,
    offsets relative to the body. `\\xNN` and octal escapes give the character
    with that code (0-255)."""
    errors: list[tuple[int, int, str]] = []

    def replace(m: re.Match) -> str:
        octal, hexa, other = m.groups()
        if octal is not None:
            if int(octal, 8) > 255:
                errors.append((m.start(), m.end(), f"octal escape sequence out of range '\\{octal}'"))
                return ""
            return _byte(int(octal, 8))
        if hexa is not None:
            if not hexa:
                errors.append((m.start(), m.end(), "invalid hex escape sequence"))
                return ""
            return _byte(int(hexa, 16))
        if other in _ESCAPES:
            return _ESCAPES[other]
        errors.append((m.start(), m.end(), f"invalid escape character '\\{other}'"))
        return ""

    return _ESCAPE_RE.sub(replace, body) if "\\" in body else body, errors


# ---------------------------------------------------------------- syntax errors

# How bison named bpftrace's tokens, for the regex terminals of the grammar.
_TOKEN_NAMES = {
    "$END": "end of file", "IDENT": "identifier", "MAP": "map", "VAR": "variable",
    "INT": "integer", "STRING": "string", "PARAM": "positional parameter",
    "ATTACH_POINT": "attach point", "ENDPRED": "/", "TYPE_KW": "type",
    "PAREN_IDENT": "(", "TYPEDEF_PTR": "(", "CPREPROC": "preprocessor directive",
    "STRUCT_DEFN": "struct definition", "SHEBANG": "header",
}
# bison lists expected tokens in declaration order; this is bpftrace's.
_ORDER = [
    "end of file", ":", ";", "{", "}", "[", "]", "(", ")", "?", "/", '","', "$#",
    "=", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "&&", "||", "+", "++",
    "<<=", ">>=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "-", "--",
    "*", "%", "&", "|", "^", "!", "~", ".", "..", "->", "struct", "union", "enum",
    "type", "macro", "identifier", "attach point", "preprocessor directive",
    "struct definition", "string", "map", "variable", "positional parameter",
    "integer", "config", "unroll", "while", "for", "return", "if", "else",
    "continue", "break", "sizeof", "offsetof", "let", "true", "false", "header",
]
_OPENERS = {"{": "}", "(": ")", "[": "]", "<": ">"}


def _token_name(type_: str) -> str:
    if type_ in _TOKEN_NAMES:
        return _TOKEN_NAMES[type_]
    term = _parser().get_terminal(type_)
    name = term.pattern.value if term.pattern.type == "str" else type_
    return '","' if name == "," else name


def _expected(state: Any) -> list[str]:
    """The tokens bison would list as expected: replay default reductions
    (each state's most common reduction) from the failing state until a state
    that only shifts, and take the terminals that state accepts."""
    from lark.parsers.lalr_analysis import Reduce

    states = state.parse_conf.states
    stack = list(state.state_stack)
    for _ in range(1000):
        actions = states[stack[-1]]
        reduces = Counter(arg for tok, (act, arg) in actions.items() if act is Reduce and tok.isupper())
        if not reduces:
            break
        rule = reduces.most_common(1)[0][0]
        if rule.origin.name == "start" or len(rule.expansion) >= len(stack):
            break  # that would accept the program
        del stack[len(stack) - len(rule.expansion):]
        goto = states[stack[-1]].get(rule.origin.name)
        if goto is None:
            break
        stack.append(goto[1])
    names = {_token_name(t) for t in states[stack[-1]] if t.isupper()}
    rank = {name: i for i, name in enumerate(_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def _unclosed(value_stack: list) -> Any:
    """The innermost `{ ( [ <` token still open on the parse stack, if any."""
    from lark import Token

    opened: list = []
    for item in value_stack:
        if not isinstance(item, Token):
            continue
        if item.value in ("{", "(", "[") or item.type == "LANGLE":
            opened.append(item)
        elif opened and item.value == _OPENERS[opened[-1].value] and item.type not in ("GT", "STRING"):
            opened.pop()
    return opened[-1] if opened else None


def _open_comment(text: str) -> int | None:
    """Offset of a `/*` comment that never ends, if any (strings and `//`
    comments are skipped)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            m = re.compile(r'"(?:[^"\\\n]|\\.)*"?').match(text, i)
            i = m.end()
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                return i
            i = j + 2
        else:
            i += 1
    return None


def _report(source: Source, diags: Diagnostics, pos: int, token: Any = None, state: Any = None) -> None:
    """Record one syntax error: `token` is the unexpected token and `state`
    lark's parser state, or both are None when nothing could be lexed at
    offset `pos`."""
    text = source.text
    comment = _open_comment(text)
    if comment is not None and comment <= pos:
        diags.error("end of file during comment", source.span(comment, comment + 2))
        return
    if token is None:
        if text[pos] == '"':
            eol = text.find("\n", pos)
            diags.error("unterminated string", source.span(pos, len(text) if eol < 0 else eol))
        else:
            diags.error(f"invalid character '{text[pos]}'", source.span(pos, pos + 1))
        return
    message = f"syntax error, unexpected {_token_name(token.type)}"
    if token.type == "$END":
        opener = _unclosed(state.value_stack)
        if opener is not None:
            hints = []
            if opener.type == "LANGLE":
                hints.append("in a '< ... >' action block, each statement ends with ';', also the last")
            span = source.span(opener.start_pos, opener.end_pos)
            diags.error(f"{message}, unmatched '{opener.value}'", span, hints)
            return
    expected = _expected(state)
    if "attach point" in expected:  # where a probe could start
        if re.match(r"#(?!!)|(?:struct|union|enum)\b[^:;,/{]*\{", text[pos:]):
            message = "C definitions must appear before probes and functions"
        elif token.value == "config":
            seen = any(getattr(v, "data", None) == "config" or getattr(v, "type", None) == "CONFIG" for v in state.value_stack)
            message = "duplicate config block" if seen else "config must appear before probes and functions"
        if not message.startswith("syntax"):
            expected = []
    if 0 < len(expected) <= 4:
        message += ", expecting " + " or ".join(expected)
    hints = []
    opener = _unclosed(state.value_stack) if token.type == "ATTACH_POINT" else None
    if opener is not None:  # a new probe starts inside a block
        where = source.span(opener.start_pos, opener.end_pos).location()
        hints.append(f"missing '{_OPENERS[opener.value]}'? The '{opener.value}' at {where} is still open")
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else len(text)
    diags.error(message, source.span(start, end), hints)
