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

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

CONST_BASE = 1 << 20
# Slot order. pidns_*: pytrace's PID namespace (its /proc/self/ns/pid); tai_delta: CLOCK_TAI - CLOCK_BOOTTIME.
CONSTANTS = ("cpid", "start_ns", "ncpus", "pidns_dev", "pidns_ino", "tai_delta")

FORMAT_VERSION = 1


@dataclass
class MapSpec:
    index: int
    name: str  # "@x"; internal maps start with "__"
    map_type: str  # "hash", "percpu_hash", "array", "percpu_array", "ringbuf"
    key_size: int
    value_size: int
    max_entries: int
    kind: str = "scalar"  # "scalar", "count", "sum", "avg", "hist", ... or "internal"
    key_layout: dict | None = None  # the BPF key: a tuple of the user keys (+ a u64 bucket for hist/lhist)
    key_count: int = 0  # how many of the key tuple's fields are user keys
    value_layout: dict | None = None
    params: list[int] = field(default_factory=list)  # hist k, lhist min/max/step
    initial: list[str] = field(default_factory=list)  # an array's values at load: entry i is text i, NUL-padded

    @property
    def percpu(self) -> bool:
        return self.map_type.startswith("percpu")


@dataclass
class EventSpec:
    """Something a probe sends to user space through the ring buffer."""

    id: int
    # What user space does with the record (runtime/session.py has a handler per
    # kind): "printf", "print_value", "print_map", "clear", "zero", "exit",
    # "time", "cat", "system", "join", "map_full", "runtime_warning", "errorf", "warnf", "unwatch",
    # "skboutput".
    kind: str
    fmt: str = ""  # printf format
    arg_layouts: list[dict] = field(default_factory=list)
    arg_offsets: list[int] = field(default_factory=list)  # offsets after the 8-byte id
    map_name: str = ""  # for map operations
    segments: Any = None  # parsed printf format, rebuilt at load (not serialised)
    # errorf/warnf: where the call is ("label", "filename", "line", "column") and the
    # macro calls it was expanded from ("expanded_from": rendered source contexts)
    source: dict = field(default_factory=dict)


@dataclass
class ProgramSpec:
    name: str  # BPF program name
    probe: str  # probe name (what `probe` prints), e.g. "tracepoint:syscalls:sys_enter_openat"
    provider: str
    prog_type: str  # "tracepoint", "kprobe", "perf_event", "raw_tracepoint", "tracing"
    insns: bytes
    attach: list[dict]  # one attach spec per attach point this program serves
    location: str = ""  # the attach point's source location, for messages
    span: list[int] | None = None  # [start, end] offsets of the attach point in the source
    unavailable: str | None = None  # why this kernel cannot attach it
    hint: str | None = None  # what to try instead
    # From the provider's declared properties (lang/probes/base.ProbeProvider):
    when: str = ""  # runs_at: "BEGIN"/"END" for the special probes run once by test-run
    warn_never_fired: str = ""  # non-empty: warn if it attached but never ran, calling it this ("kprobe")


@dataclass
class Artifact:
    programs: list[ProgramSpec] = field(default_factory=list)
    maps: list[MapSpec] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)
    source_name: str = "stdin"
    ringbuf_map: int = -1
    lost_map: int = -1
    # Kernel variables (percpu_kaddr()) referenced as `ld_imm64 src_reg=BPF_PSEUDO_BTF_ID
    # imm=<index here>`; the loader swaps in their BTF ids.
    kernel_vars: list[str] = field(default_factory=list)
    print_maps_on_exit: bool = True  # config print_maps_on_exit
    max_cat_bytes: int = 10240  # config max_cat_bytes: what cat() prints at most
    prometheus_labels: list[str] = field(default_factory=list)  # config prometheus_labels (runtime/exporters)
    version: int = FORMAT_VERSION

    def map_by_name(self, name: str) -> MapSpec | None:
        for m in self.maps:
            if m.name == name:
                return m
        return None

    # ------------------------------------------------------------ serialisation
    def to_json(self) -> str:
        d = asdict(self)
        for p in d["programs"]:
            p["insns"] = base64.b64encode(p["insns"]).decode()
        for e in d["events"]:
            e.pop("segments", None)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "Artifact":
        d = json.loads(text)
        if d.get("version") != FORMAT_VERSION:
            raise ValueError("artifact format version mismatch")
        programs = [ProgramSpec(**{**p, "insns": base64.b64decode(p["insns"])}) for p in d.pop("programs")]
        maps = [MapSpec(**m) for m in d.pop("maps")]
        events = [EventSpec(**e) for e in d.pop("events")]
        return cls(programs=programs, maps=maps, events=events, **d)
