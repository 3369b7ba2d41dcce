"""What all probe functions of one compiled program share: its maps (user
maps, the ring buffer, the lost-event counter, scratch space) and the table
of events probes send to user space."""

from __future__ import annotations

from dataclasses import field

from llvmlite import ir

from pytrace.codegen.artifact import EventSpec, MapSpec
from pytrace.codegen.map_types import KEY_SIZE as ARRAY_KEY_SIZE
from pytrace.codegen.map_types import keyless_arrays
from pytrace.lang import ast
from pytrace.lang import types as T
from pytrace.lang.context import CompileContext, MapInfo
from pytrace.lang.diagnostics import WARNING, Diagnostic
from pytrace.lang.passes.config import MAP_DECL_TYPES
from pytrace.lang.records import record

# The ring buffer: 4 MiB (about 0.4 s of printf records at 400k events/s) when the program sends a
# stream of output (printf, print...); 64 KiB when its events are rare (exit, a full map, clear). The
# whole ring is mapped into pytrace at once, so its size is resident memory (and time at start).
RINGBUF_SIZE = 1 << 22
RINGBUF_SIZE_QUIET = 1 << 16
STREAM_EVENTS = {"printf", "print_value", "print_map", "time", "cat", "system", "join"}
PAGE_SIZE = 4096


def ringbuf_size(pages: int, streams: bool) -> int:
    """The ring buffer's bytes: `perf_rb_pages` pages rounded to the closest power of two
    (as bpftrace rounds them), else the default for a program with or without output streams."""
    if pages <= 0:
        return RINGBUF_SIZE if streams else RINGBUF_SIZE_QUIET
    low = 1 << (pages.bit_length() - 1)
    return PAGE_SIZE * (low if pages - low <= 2 * low - pages else 2 * low)
E2BIG = 7  # what map_update_elem returns when a hash map is full


def bpf_key_type(info: MapInfo) -> T.TupleType:
    """The BPF key of a map: its user keys (a u64 0 for a map without keys),
    plus a u64 bucket index for the histogram aggregations (hist, lhist)."""
    elems = list(info.key_types or [])
    if info.aggregation is not None and info.aggregation.buckets:
        elems.append(T.U64)
    return T.TupleType(tuple(elems or [T.U64]))


@record
class ModuleState:
    """What all probe functions of one program share: maps and events."""

    ctx: CompileContext
    module: ir.Module
    maps: list[MapSpec] = field(default_factory=list)
    map_index: dict[str, int] = field(default_factory=dict)
    events: list[EventSpec] = field(default_factory=list)
    ringbuf: int = -1
    lost: int = -1
    scratch: int = -1  # per-CPU array of big buffers, one entry per program that needs any
    scratch_users: int = 0
    kernel_vars: list[str] = field(default_factory=list)  # see Artifact.kernel_vars

    def __post_init__(self) -> None:
        arrays = keyless_arrays(self.ctx)
        for name, info in sorted(self.ctx.maps.items()):
            key = bpf_key_type(info)
            map_type, max_keys = ("percpu_array", 1) if name in arrays else self.map_kind(info)
            key_size = ARRAY_KEY_SIZE if name in arrays else key.size
            self.map_index[name] = len(self.maps)
            self.maps.append(MapSpec(
                len(self.maps), name, map_type, key_size, info.value_type.size, max_keys, info.kind,
                key.layout(), len(info.key_types or []), info.value_type.layout(),
                list(getattr(info.value_type, "params", ()))))
        self.ringbuf = self._internal("__ringbuf", "ringbuf", 0, 0, ringbuf_size(self.ctx.options.perf_rb_pages, False))
        self.lost = self._internal("__lost", "percpu_array", 4, 8, 1)
        for fmt in self.ctx.formats:
            rec = fmt.record_type
            self._add(EventSpec(
                fmt.id, fmt.kind, fmt.fmt, [t.layout() for t in fmt.arg_types],
                [8 + o for o in rec.offsets()], segments=fmt.segments))

    def map_kind(self, info: MapInfo) -> tuple[str, int]:
        """A map's BPF type and size: from its `let @m = kind(N);` declaration, or
        a hash (per-CPU for aggregations) of max_map_keys entries."""
        decl = self.ctx.map_decls.get(info.name)
        if decl is not None:
            return MAP_DECL_TYPES[decl.kind], decl.max_entries
        return ("percpu_hash" if info.percpu else "hash"), self.ctx.options.max_map_keys

    def map_full_event(self, node: ast.Map) -> EventSpec:
        """The one-shot warning user space prints when an update finds the map full."""
        msg = ("Map full; can't update element. Try increasing max_map_keys config or manually setting "
               "the max entries in a map declaration e.g. `let @a = hash(5000)`\n"
               f"Additional Info - helper: map_update_elem, retcode: -{E2BIG}")
        ev = self.add_event("map_full", node.name)
        ev.fmt = Diagnostic(WARNING, msg, node.span).render()
        return ev

    def scratch_entry(self) -> int:
        """A new program's entry in the scratch map (created on first use)."""
        if self.scratch < 0:
            self.scratch = self._internal("__scratch", "percpu_array", 4, 8, 1)
        self.scratch_users += 1
        self.maps[self.scratch].max_entries = self.scratch_users
        return self.scratch_users - 1

    def scratch_size(self, size: int) -> None:
        spec = self.maps[self.scratch]
        spec.value_size = max(spec.value_size, size)

    def kernel_var(self, name: str) -> int:
        """The index of a kernel variable in the artifact's kernel_vars."""
        if name not in self.kernel_vars:
            self.kernel_vars.append(name)
        return self.kernel_vars.index(name)

    def string_table(self, name: str, texts: list[str], size: int) -> int:
        """An array map holding `texts` (entry i: text i in `size` bytes), filled at load."""
        if name not in self.map_index:
            self.map_index[name] = self._internal(name, "array", 4, size, len(texts))
            self.maps[self.map_index[name]].initial = texts
        return self.map_index[name]

    def _internal(self, name: str, map_type: str, key_size: int, value_size: int, entries: int) -> int:
        self.maps.append(MapSpec(len(self.maps), name, map_type, key_size, value_size, entries, "internal"))
        return len(self.maps) - 1

    def add_event(self, kind: str, map_name: str = "", arg_types: list[T.Type] | None = None) -> EventSpec:
        """An event that is not a format call: exit(), print(@m), clear(@m)..."""
        arg_types = arg_types or []
        rec = T.TupleType(tuple(arg_types))
        ev = EventSpec(len(self.events), kind, "", [t.layout() for t in arg_types],
                       [8 + o for o in rec.offsets()], map_name)
        return self._add(ev)

    def _add(self, ev: EventSpec) -> EventSpec:
        self.events.append(ev)
        if ev.kind in STREAM_EVENTS:  # output streams get the large ring buffer
            self.maps[self.ringbuf].max_entries = ringbuf_size(self.ctx.options.perf_rb_pages, True)
        return ev


