"""`import "file.bt";`: find the file and merge its probes, macros, map
declarations and C definitions into the program, as bpftrace does.

A name is looked up in the importing script's directory (the current
directory for `-e` programs), then in `Options.import_paths`. A directory
imports every `.bt` file in it (not recursively). Each name and each file is
imported once; imported scripts may import in turn, relative to their own
directory, and may not have a `config` block. Files in a world-writable
directory are refused. C imports (`.h`, `.bpf.c`) need clang and are not
supported, except the C files of bpftrace's embedded stdlib whose functions
pytrace provides natively (`Function.imported_from` in lang/builtins.py): a
name that no path matches imports the stdlib file it names, or the files of
the stdlib directory it names.
"""

from __future__ import annotations

import os
import stat

from pytrace.lang import ast, builtins
from pytrace.lang.context import CompileContext
from pytrace.lang.source import Source

_C_SUFFIXES = (".h", ".bpf.c", ".bpf.o")


def _world_writable(path: str) -> bool:
    def one(p: str) -> bool:
        try:
            return bool(os.stat(p).st_mode & stat.S_IWOTH)
        except OSError:
            return False

    return one(path) or one(os.path.dirname(path) or ".")


class _Importer:
    def __init__(self, ctx: CompileContext, root: ast.Program) -> None:
        self.ctx = ctx
        self.root = root
        self.names: set[str] = set()
        self.files: set[str] = set()

    def error(self, message: str, node: ast.Node, hints: list[str] | None = None) -> None:
        self.ctx.diags.error(message, node.span, hints)

    def program(self, program: ast.Program, directory: str) -> None:
        paths = [directory, *self.ctx.options.import_paths]
        for imp in program.imports:
            self.one(imp, paths)

    def one(self, imp: ast.Import, paths: list[str]) -> None:
        if imp.path in self.names:
            return
        self.names.add(imp.path)
        checked = []
        for base in paths:
            path = os.path.join(base, imp.path) if base else imp.path
            checked.append(path)
            if os.path.exists(path):
                self.path(imp, path)
                return
        stdlib = {f.imported_from for f in builtins.FUNCTIONS.values() if f.imported_from}
        found = {p for p in stdlib if imp.path in (p, os.path.dirname(p))}
        if found:
            self.ctx.stdlib_imports |= found
            return
        self.error("Unable to find suitable path for import", imp, [f"checked: {','.join(checked)}"])

    def path(self, imp: ast.Import, path: str) -> None:
        if _world_writable(path):
            self.error(f'cowardly refusing to import from a directory with global write permissions: "{path}"',
                       imp)
            return
        if os.path.isdir(path):
            for entry in sorted(os.listdir(path)):
                if entry.endswith(".bt"):
                    self.file(imp, os.path.join(path, entry))
            return
        if path.endswith(".bt"):
            self.file(imp, path)
        elif path.endswith(_C_SUFFIXES):
            self.error(f"importing C files is not supported: \"{path}\"", imp,
                       ["pytrace has no C compiler; define the types in the script instead"])
        else:
            self.error(f'unknown import type: "{os.path.basename(path)}"', imp)

    def file(self, imp: ast.Import, path: str) -> None:
        from pytrace.lang.parser import parse

        real = os.path.realpath(path)
        if real in self.files:
            return
        self.files.add(real)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            self.error(f"error reading import '\"{path}\"': {e.strerror}", imp)
            return
        program = parse(Source(path, text), self.ctx.diags)
        if program is None:
            return
        if program.config is not None:
            self.error("invalid `config` within import", program.config)
            return
        self.program(program, os.path.dirname(path))
        self.root.c_definitions.extend(program.c_definitions)
        self.root.macros.extend(program.macros)
        self.root.map_decls.extend(program.map_decls)
        self.root.probes.extend(program.probes)


def resolve_imports(ctx: CompileContext) -> None:
    program = ctx.program
    if program is None or not program.imports:
        return
    directory = os.path.dirname(ctx.source.name) if ctx.source.name != "stdin" else ""
    _Importer(ctx, program).program(program, directory)
