"""What the passes know about a program: its probes bound to providers, its
maps, variables and output formats. Passes fill this in; codegen reads it."""

from __future__ import annotations

from dataclasses import field
from pytrace.lang.records import record
from typing import Any

from pytrace.lang import aggregations, ast
from pytrace.lang import types as T
from pytrace.lang.diagnostics import Diagnostics
from pytrace.lang.kernel_view import KernelView, host_kernel
from pytrace.lang.options import Options  # noqa: F401  (re-exported)
from pytrace.lang.probes.base import ProbeProvider, ProbeSpec
from pytrace.lang.source import Source


@record
class MapInfo:
    name: str  # "@x", or "@" for the anonymous map
    kind: str  # "scalar" or an aggregation: "count", "sum", "avg", "hist"...
    value_type: T.Type
    key_types: list[T.Type] | None  # None: a map without keys
    span: Any = None

    @property
    def key_type(self) -> T.Type:
        """The map's BPF key: the keys as one tuple, or a u64 0 without keys."""
        if not self.key_types:
            return T.U64
        if len(self.key_types) == 1:
            return self.key_types[0]
        return T.TupleType(tuple(self.key_types))

    @property
    def aggregation(self) -> aggregations.Aggregation | None:
        """The map's entry in lang/aggregations.py; None for plain values."""
        return aggregations.get(self.kind)

    @property
    def is_aggregation(self) -> bool:
        return self.aggregation is not None

    @property
    def percpu(self) -> bool:
        """Aggregation maps are per-CPU; user space combines the CPUs' values."""
        return self.is_aggregation


@record
class FormatInfo:
    """A printf-like call whose arguments travel through the ring buffer."""

    id: int
    kind: str  # "printf", "print", "exit", ...
    fmt: str
    arg_types: list[T.Type]
    segments: Any = None  # lang.format_string segments

    @property
    def record_type(self) -> T.TupleType:
        return T.TupleType(tuple(self.arg_types))


@record
class ProbeUnit:
    """One probe of the program with its expanded attach points."""

    index: int
    probe: ast.Probe
    provider: ProbeProvider
    specs: list[ProbeSpec]
    variables: dict[str, T.Type] = field(default_factory=dict)


class CompileContext:
    def __init__(self, source: Source, options: Options | None = None) -> None:
        self.source = source
        self.options = options or Options()
        # The kernel compiled for: all the language side reads of one (lang/kernel_view.py).
        self.kernel: KernelView = self.options.kernel or host_kernel()
        self.diags = Diagnostics()
        self.program: ast.Program | None = None
        self.units: list[ProbeUnit] = []
        self.maps: dict[str, MapInfo] = {}
        self.formats: list[FormatInfo] = []
        self.map_decls: dict[str, ast.MapDecl] = {}  # `let @m = lruhash(N);`, by map name
        self.c_types: Any = None  # lang.ctypes_parse.CDefinitions: the script's struct/enum definitions
        # getopt()'s options, by name, with the values they have in this run (lang/passes/program_settings.py)
        self.program_options: dict[str, Any] = {}
        # bpftrace's embedded stdlib C files the script imported (lang/imports.py), by path there
        self.stdlib_imports: set[str] = set()

    def add_format(self, kind: str, fmt: str, arg_types: list[T.Type], segments: Any = None) -> FormatInfo:
        info = FormatInfo(len(self.formats), kind, fmt, arg_types, segments)
        self.formats.append(info)
        return info
