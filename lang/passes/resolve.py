"""Resolve names: bare identifiers become builtins (provider variables
first), positional parameters become literals, and calls must name a known
function with an accepted number of arguments."""

from __future__ import annotations

from pytrace.lang import ast, builtins, ctypes_parse, ktypes
from pytrace.lang.context import CompileContext, ProbeUnit


def _arg_count_error(fn: builtins.Function, n: int) -> str | None:
    if fn.min_args == fn.max_args and n != fn.min_args:
        want = {0: "no arguments", 1: "one argument"}.get(fn.min_args, f"{fn.min_args} arguments")
        return f"{fn.name}() requires {want} ({n} provided)"
    if n < fn.min_args:
        want = "one argument" if fn.min_args == 1 else f"{fn.min_args} arguments"
        return f"{fn.name}() requires at least {want} ({n} provided)"
    if n > fn.max_args:
        want = {0: "no arguments", 1: "up to one argument"}.get(fn.max_args, f"up to {fn.max_args} arguments")
        verb = "requires" if fn.max_args == 0 else "takes"
        return f"{fn.name}() {verb} {want} ({n} provided)"
    return None


def _positional(ctx: CompileContext, node: ast.PositionalParam, in_str: bool) -> ast.Expr:
    """Positional parameters left after fold_literals (which replaces those of probes)."""
    from pytrace.lang.passes.fold_literals import positional_literal

    if in_str and node.index:
        return ast.String(ctx.options.params[node.index - 1] if node.index <= len(ctx.options.params) else "",
                          span=node.span)
    return positional_literal(ctx.options.params, node)


def _keeps_identifiers(call: ast.Call) -> bool:
    fn = builtins.function(call.name)
    return fn is not None and fn.keeps_identifiers


class _Resolver:
    def __init__(self, ctx: CompileContext, unit: ProbeUnit) -> None:
        self.ctx, self.unit = ctx, unit

    def run(self, node: ast.Node, parent: ast.Node | None = None) -> None:
        for child in list(node.children()):
            new = self.rewrite(child, node)
            if new is not child:
                node.replace_child(child, new)
            self.run(new, node)

    def rewrite(self, node: ast.Node, parent: ast.Node) -> ast.Node:
        if isinstance(node, ast.PositionalParam):
            in_str = isinstance(parent, ast.Call) and parent.name == "str"
            return _positional(self.ctx, node, in_str)
        if isinstance(node, ast.Identifier) and isinstance(parent, ast.Call) and _keeps_identifiers(parent):
            return node  # e.g. the stack mode in kstack(perf, 8): checked by the builtin
        if isinstance(node, ast.Identifier):
            if isinstance(parent, (ast.Sizeof, ast.Offsetof, ast.TypeName)) and not self.is_builtin(node.name) \
                    and self.enum_value(node.name) is None:
                return ast.TypeName(node.name, span=node.span)  # `sizeof(pid_t)`: a type
            return self.identifier(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        return node

    def identifier(self, node: ast.Identifier) -> ast.Node:
        name = builtins.ALIASES.get(node.name, node.name)
        fn = builtins.function(name)
        if fn is not None and fn.bare and builtins.variable(name) is None:
            return self.call(ast.Call(name, [], span=node.span))  # `ppid` is `ppid()`
        provider = self.unit.provider
        if name in provider.variable_names or provider.variable(name, self.unit.specs[0]) is not None:
            return ast.Builtin(name, span=node.span)
        if name == "args" and provider.args_type(self.unit.specs[0]) is not None:
            return ast.Builtin(name, span=node.span)
        var = builtins.variable(name)
        if var is not None and var.probes == builtins.ALL_PROBES:
            return ast.Builtin(name, span=node.span)
        if var is not None:
            self.ctx.diags.error(f"The {name} builtin can only be used with {builtins.offered_by(var)} probes "
                                 f"(not {provider.name})", node.span)
            return node
        value = self.enum_value(name)
        if value is not None:
            return ast.Integer(value, name, span=node.span)
        close = _close_matches(name, list(builtins.VARIABLES))
        self.ctx.diags.error(f"Unknown identifier: '{name}'", node.span,
                             [f"Did you mean {close[0]}?"] if close else [])
        return node

    def is_builtin(self, name: str) -> bool:
        provider, spec = self.unit.provider, self.unit.specs[0]
        name = builtins.ALIASES.get(name, name)
        fn = builtins.function(name)
        return (name in provider.variable_names or provider.variable(name, spec) is not None
                or builtins.variable(name) is not None or fn is not None and fn.bare)

    def enum_value(self, name: str) -> int | None:
        """An enumerator of the script's enums or of the kernel's (BTF)."""
        script = self.ctx.c_types.enums if self.ctx.c_types is not None else {}
        return script[name] if name in script else ktypes.enum_value(name, self.ctx.kernel.btf())

    def call(self, node: ast.Call) -> ast.Node:
        fn = builtins.function(node.name)
        if not node.args and self.is_builtin(node.name) and (fn is None or fn.min_args > 0):
            return self.identifier(ast.Identifier(node.name, span=node.span))  # `pid()` is `pid`
        if fn is not None and fn.imported_from and fn.imported_from not in self.ctx.stdlib_imports:
            fn = None  # a stdlib C function, not imported
        if fn is None:
            known = [f.name for f in builtins.FUNCTIONS.values()
                     if not f.imported_from or f.imported_from in self.ctx.stdlib_imports]
            close = _close_matches(node.name, known)
            self.ctx.diags.error(f"Unknown function: '{node.name}'", node.span,
                                 [f"Did you mean {close[0]}()?"] if close else [])
            return node
        msg = _arg_count_error(fn, len(node.args))
        if msg:
            self.ctx.diags.error(msg, node.span)
        if fn.unsafe and not self.ctx.options.unsafe:
            self.ctx.diags.error(f"{node.name}() is an unsafe function", node.span,
                                 ["Run with --unsafe to allow it"])
        return node


def _close_matches(name: str, known: list[str]) -> list[str]:
    """The name meant, for a "did you mean" hint (difflib is imported only for a mistake)."""
    import difflib

    return difflib.get_close_matches(name, known, n=1)


def c_definitions(ctx: CompileContext) -> None:
    """The script's `struct`/`union`/`enum` definitions, laid out once."""
    program = ctx.program
    others = program.c_definitions if program else []
    # the structs the script's #if lines keep (each stands for one line here: its text is not C to preprocess)
    kept: range | set[int] = range(len(others))
    if any(d.kind == "define" for d in others):
        from pytrace.lang import include_consts  # (imported only for scripts with #define or #include lines)

        kept = include_consts.kept_lines([d.text if d.kind != "struct" else "struct" for d in others],
                                         ctx.kernel.btf() is not None)
    defs = [d for i, d in enumerate(others) if d.kind == "struct" and i in kept]
    ctx.c_types, errors = ctypes_parse.parse_definitions([d.text for d in defs], ctx.kernel)
    for index, error in errors:
        if error.offset is None:
            ctx.diags.error(str(error), defs[index].span)
        else:  # clang's error, at its place in bpftrace's definitions.h
            ctx.diags.error(f"error: {error}", label=_definitions_h_place(others, defs[index], error.offset))
    header_constants(ctx, others)
    # (the script's #defines are read by header_constants, with its #if lines)
    ctypes_parse.add_macros(ctx.c_types, [], any(d.kind == "include" for d in others))


def header_constants(ctx: CompileContext, definitions: list[ast.CDefinition]) -> None:
    """The constants of the script's #defines and #included system headers, its
    #if/#ifdef lines honoured; a header that is not there is clang's error, at its
    line in bpftrace's definitions.h (line 1 there includes the BTF types)."""
    lines = [d for d in definitions if d.kind != "struct"]
    extra = [f"#include <{name}>" for name in ctx.options.include_files]  # --include FILE
    if not lines and not extra:
        return
    from pytrace.lang import include_consts

    constants, missing = include_consts.script_constants(extra + [d.text for d in lines],
                                                         ctx.kernel.btf() is not None)
    for name, value in constants.items():
        ctx.c_types.enums.setdefault(name, value)
    for index, name in missing:
        if index < len(extra):
            ctx.diags.error(f"fatal error: '{name}' file not found")
            continue
        d = lines[index - len(extra)]
        offset = min(i for i in (d.text.find("<"), d.text.find('"')) if i >= 0)
        ctx.diags.error(f"fatal error: '{name}' file not found", label=_definitions_h_place(definitions, d, offset))


def _definitions_h_place(definitions: list[ast.CDefinition], d: ast.CDefinition, offset: int) -> str:
    """Where offset `offset` of definition d is in bpftrace's definitions.h: the script's
    definitions one after another, after a first line including the BTF types."""
    before = d.text[:offset]
    line = 2 + sum(p.text.count("\n") + 1 for p in definitions[:definitions.index(d)]) + before.count("\n")
    return f"definitions.h:{line}:{offset - before.rfind(chr(10))}"


def resolve(ctx: CompileContext) -> None:
    c_definitions(ctx)
    for unit in ctx.units:
        _Resolver(ctx, unit).run(unit.probe)
