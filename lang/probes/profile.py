"""profile:UNIT:N (`p:`): fires on every CPU at a frequency (hz) or period."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec
from pytrace.lang.probes.interval import (PERF_COUNT_SW_CPU_CLOCK, PERF_TYPE_SOFTWARE, UNIT_NS, list_units,
                                             listed_rate, parse_rate)


class ProfileProvider(ProbeProvider):
    name = "profile"
    aliases = ("p",)
    prog_type = "perf_event"
    attach_kind = "perf_event"
    doc = "timed sampling on every CPU: profile:hz|s|ms|us:N"

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return list_units(self.name, pattern)

    def listed_name(self, spec: ProbeSpec) -> str | None:
        return listed_rate(spec)

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        unit, n = parse_rate(self.name, parts)
        attach = {"kind": self.attach_kind, "type": PERF_TYPE_SOFTWARE,
                  "config": PERF_COUNT_SW_CPU_CLOCK, "cpus": "all"}
        if unit == "hz":
            attach["freq"] = n
        elif unit in UNIT_NS:
            attach["period"] = UNIT_NS[unit] * n
        else:
            raise ProbeError(f"{unit} is not an accepted unit", ["Use hz, s, ms or us"])
        return [ProbeSpec(self.name, f"profile:{unit}:{n}", {"unit": unit, "rate": n}, attach)]
