"""software:EVENT[:COUNT] (`s:`) and hardware:EVENT[:COUNT] (`h:`): perf
counters that run the probe every COUNT events, on every CPU."""

from __future__ import annotations

import os

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec, list_matching
from pytrace.lang.probes.interval import listed_rate

PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE = 0, 1

# name -> (aliases, perf config, default sample period), as bpftrace defines them.
SOFTWARE_EVENTS = {
    "cpu-clock": (("cpu",), 0, 1_000_000),
    "task-clock": ((), 1, 1_000_000),
    "page-faults": (("faults",), 2, 100),
    "context-switches": (("cs",), 3, 1000),
    "cpu-migrations": ((), 4, 1),
    "minor-faults": ((), 5, 100),
    "major-faults": ((), 6, 1),
    "alignment-faults": ((), 7, 1),
    "emulation-faults": ((), 8, 1),
    "dummy": ((), 9, 1),
    "bpf-output": ((), 10, 1),
}
HARDWARE_EVENTS = {
    "cpu-cycles": (("cycles",), 0, 1_000_000),
    "instructions": ((), 1, 1_000_000),
    "cache-references": ((), 2, 1_000_000),
    "cache-misses": ((), 3, 1_000_000),
    "branch-instructions": (("branches",), 4, 100_000),
    "branch-misses": ((), 5, 100_000),
    "bus-cycles": ((), 6, 100_000),
    "frontend-stalls": ((), 7, 1_000_000),
    "backend-stalls": ((), 8, 1_000_000),
    "ref-cycles": ((), 9, 1_000_000),
}


class SoftwareProvider(ProbeProvider):
    name = "software"
    aliases = ("s",)
    prog_type = "perf_event"
    attach_kind = "perf_event"
    events = SOFTWARE_EVENTS
    perf_type = PERF_TYPE_SOFTWARE
    doc = "kernel software events: software:EVENT[:COUNT]"

    def _lookup(self, event: str) -> tuple[str, int, int]:
        for name, (aliases, config, period) in self.events.items():
            if event == name or event in aliases:
                return name, config, period
        raise ProbeError(f"Unknown {self.name} event: {event}",
                         ["Known events: " + ", ".join(self.events)])

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        # Each event, then its alias, printed with bpftrace's trailing ':'.
        names = [f"{self.name}:{e}" for e, (aliases, _, _) in self.events.items() for e in (e, *aliases)]
        return [n + ":" for n in names if list_matching([n, n + ":"], pattern)]

    def listed_name(self, spec: ProbeSpec) -> str | None:
        return listed_rate(spec)

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) not in (1, 2) or not parts[0]:
            raise ProbeError(f"{self.name} probe must be {self.name}:EVENT[:COUNT]")
        name, config, period = self._lookup(parts[0])
        if len(parts) == 2:
            try:
                period = int(float(parts[1])) if "e" in parts[1] else int(parts[1].replace("_", ""), 0)
            except ValueError:
                raise ProbeError(f"Invalid count: {parts[1]}") from None
        probe = f"{self.name}:{parts[0]}:{period}"
        return [ProbeSpec(self.name, probe, {"event": name, "count": period},
                          {"kind": self.attach_kind, "type": self.perf_type, "config": config,
                           "period": period, "cpus": "all", "per_process": True})]


class HardwareProvider(SoftwareProvider):
    name = "hardware"
    aliases = ("h",)
    events = HARDWARE_EVENTS
    perf_type = PERF_TYPE_HARDWARE
    doc = "CPU hardware counters: hardware:EVENT[:COUNT]"

    def unavailable_reason(self) -> str | None:
        if os.path.exists("/sys/bus/event_source/devices/cpu"):
            return None
        return "this machine has no hardware performance counters (no CPU PMU is exposed)"
