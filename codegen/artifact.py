"""The compiled program: the one thing the runtime reads.

Plain data, serialisable to JSON (so a compiled program can be cached and
reused). Map references inside instructions are `ld_imm64` with
src_reg=BPF_PSEUDO_MAP_FD and imm = the map's index in `maps`; the loader
swaps in real file descriptors. Run-time constants (such as `cpid`) are
`ld_imm64` with src_reg=BPF_PSEUDO_MAP_FD and imm = CONST_BASE + slot; the
loader replaces them with plain 64-bit immediates.

Ring-buffer records start with a u64 event id, the index of an entry of
`events`; the record's arguments follow at that entry's `arg_offsets`.
"""

from __future__ import annotations

CONST_BASE = 1 << 20
# Slot order. pidns_*: pytrace's PID namespace (its /proc/self/ns/pid); tai_delta: CLOCK_TAI - CLOCK_BOOTTIME.
CONSTANTS = ("cpid", "start_ns", "ncpus", "pidns_dev", "pidns_ino", "tai_delta")

FORMAT_VERSION = 1


class _Record:
    """Plain data compared and shown field by field. Not dataclasses: a cached program's start
    imports this module before it attaches, and importing `dataclasses` costs about 10 ms."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class MapSpec(_Record):
    def __init__(self, index: int, name: str, map_type: str, key_size: int, value_size: int, max_entries: int,
                 kind: str = "scalar", key_layout: dict | None = None, key_count: int = 0,
                 value_layout: dict | None = None, params: list[int] | None = None,
                 initial: list[str] | None = None) -> None:
        self.index = index
        self.name = name  # "@x"; internal maps start with "__"
        self.map_type = map_type  # "hash", "percpu_hash", "array", "percpu_array", "ringbuf"
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.kind = kind  # "scalar", "count", "sum", "avg", "hist", ... or "internal"
        self.key_layout = key_layout  # the BPF key: a tuple of the user keys (+ a u64 bucket for hist/lhist)
        self.key_count = key_count  # how many of the key tuple's fields are user keys
        self.value_layout = value_layout
        self.params = params if params is not None else []  # hist k, lhist min/max/step
        self.initial = initial if initial is not None else []  # an array's values at load: text i, NUL-padded

    @property
    def percpu(self) -> bool:
        return self.map_type.startswith("percpu")


class EventSpec(_Record):
    """Something a probe sends to user space through the ring buffer."""

    def __init__(self, id: int, kind: str, fmt: str = "", arg_layouts: list[dict] | None = None,
                 arg_offsets: list[int] | None = None, map_name: str = "", segments: object = None,
                 source: dict | None = None) -> None:
        self.id = id
        # What user space does with the record (runtime/session.py has a handler per
        # kind): "printf", "print_value", "print_map", "clear", "zero", "exit",
        # "time", "cat", "system", "join", "map_full", "runtime_warning", "errorf", "warnf", "unwatch",
        # "skboutput".
        self.kind = kind
        self.fmt = fmt  # printf format
        self.arg_layouts = arg_layouts if arg_layouts is not None else []
        self.arg_offsets = arg_offsets if arg_offsets is not None else []  # offsets after the 8-byte id
        self.map_name = map_name  # for map operations
        self.segments = segments  # the parsed printf format (lang/format_string.py's Segments), or None
        # errorf/warnf: where the call is ("label", "filename", "line", "column") and the
        # macro calls it was expanded from ("expanded_from": rendered source contexts)
        self.source = source if source is not None else {}


class ProgramSpec(_Record):
    def __init__(self, name: str, probe: str, provider: str, prog_type: str, insns: bytes, attach: list[dict],
                 location: str = "", span: list[int] | None = None, unavailable: str | None = None,
                 hint: str | None = None, when: str = "", warn_never_fired: str = "",
                 fires_newest_first: bool = False) -> None:
        self.name = name  # BPF program name
        self.probe = probe  # probe name (what `probe` prints), e.g. "tracepoint:syscalls:sys_enter_openat"
        self.provider = provider
        self.prog_type = prog_type  # "tracepoint", "kprobe", "perf_event", "raw_tracepoint", "tracing"
        self.insns = insns
        self.attach = attach  # one attach spec per attach point this program serves
        self.location = location  # the attach point's source location, for messages
        self.span = span  # [start, end] offsets of the attach point in the source
        self.unavailable = unavailable  # why this kernel cannot attach it
        self.hint = hint  # what to try instead
        # From the provider's declared properties (lang/probes/base.ProbeProvider):
        self.when = when  # runs_at: "BEGIN"/"END" for the special probes run once by test-run
        self.warn_never_fired = warn_never_fired  # non-empty: warn if it attached but never ran, calling it this
        self.fires_newest_first = fires_newest_first  # the kernel runs probes on one event newest first


class Artifact(_Record):
    def __init__(self, programs: list[ProgramSpec] | None = None, maps: list[MapSpec] | None = None,
                 events: list[EventSpec] | None = None, source_name: str = "stdin", ringbuf_map: int = -1,
                 lost_map: int = -1, kernel_vars: list[str] | None = None, print_maps_on_exit: bool = True,
                 max_cat_bytes: int = 10240, prometheus_labels: list[str] | None = None,
                 symbols: dict | None = None, version: int = FORMAT_VERSION, log_size: int = 1000000) -> None:
        self.programs = programs if programs is not None else []
        self.maps = maps if maps is not None else []
        self.events = events if events is not None else []
        self.source_name = source_name
        self.ringbuf_map = ringbuf_map
        self.lost_map = lost_map
        # Kernel variables (percpu_kaddr()) referenced as `ld_imm64 src_reg=BPF_PSEUDO_BTF_ID
        # imm=<index here>`; the loader swaps in their BTF ids.
        self.kernel_vars = kernel_vars if kernel_vars is not None else []
        self.print_maps_on_exit = print_maps_on_exit  # config print_maps_on_exit
        self.max_cat_bytes = max_cat_bytes  # config max_cat_bytes: what cat() prints at most
        self.log_size = log_size  # config log_size: the verifier log's buffer when loading with -v
        self.prometheus_labels = prometheus_labels if prometheus_labels is not None else []  # config (exporters)
        # config show_debug_info and cache_user_symbols: how user stacks are symbolised (runtime/symbols.py)
        self.symbols = symbols if symbols is not None else {}
        self.version = version

    def map_by_name(self, name: str) -> MapSpec | None:
        for m in self.maps:
            if m.name == name:
                return m
        return None

    # ------------------------------------------------------------ serialisation
    def to_plain(self) -> dict:
        """The artifact as dicts, lists, strings, numbers and bytes (JSON or marshal can write it)."""
        return {**vars(self), "programs": [dict(vars(p)) for p in self.programs],
                "maps": [dict(vars(m)) for m in self.maps],
                "events": [{**vars(e), "segments": _plain_segments(e.segments)} for e in self.events]}

    @classmethod
    def from_plain(cls, d: dict) -> "Artifact":
        """The artifact to_plain() gave (ValueError, TypeError or KeyError if it is not one)."""
        if d.get("version") != FORMAT_VERSION:
            raise ValueError("artifact format version mismatch")
        d = dict(d)
        programs = [ProgramSpec(**p) for p in d.pop("programs")]
        maps = [MapSpec(**m) for m in d.pop("maps")]
        events = [EventSpec(**{**e, "segments": _segments(e.get("segments"))}) for e in d.pop("events")]
        return cls(programs=programs, maps=maps, events=events, **d)

    def to_json(self) -> str:
        import binascii
        import json

        d = self.to_plain()
        for p in d["programs"]:
            p["insns"] = binascii.b2a_base64(p["insns"], newline=False).decode()
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "Artifact":
        import binascii
        import json

        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("not an artifact")
        d["programs"] = [{**p, "insns": binascii.a2b_base64(p["insns"])} for p in d.get("programs", [])]
        return cls.from_plain(d)


def _plain_segments(segments) -> list | None:
    return None if segments is None else [s.plain() for s in segments]


def _segments(plain) -> list | None:
    """A printf format's segments again, without parsing it (which imports `re`)."""
    if plain is None:
        return None
    from pytrace.lang.format_string import Segment

    return [Segment.from_plain(fields) for fields in plain]
