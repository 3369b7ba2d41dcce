"""interval:UNIT:N (`i:`): fires on one CPU every N units (s, ms, us, hz)."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec, list_matching

UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
LISTED_UNITS = ("hz", "ms", "s", "us")  # what `-l` shows, as bpftrace does
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_CPU_CLOCK = 0


def parse_rate(provider: str, parts: list[str]) -> tuple[str, int]:
    if len(parts) == 1 and parts[0].isdigit():  # interval:N means seconds? bpftrace: hz default for profile
        raise ProbeError(f"{provider} probe needs a unit: {provider}:UNIT:N", [f"e.g. {provider}:s:1"])
    if len(parts) != 2:
        raise ProbeError(f"{provider} probe must have a unit and a rate: {provider}:UNIT:N")
    unit, count = parts
    try:
        n = int(float(count.replace("_", ""))) if "e" in count else int(count.replace("_", ""), 0)
    except ValueError:
        raise ProbeError(f"Invalid rate of {provider} probe: {count}") from None
    if n <= 0:
        raise ProbeError(f"{provider} rate must be a positive integer")
    return unit, n


def list_units(provider: str, pattern: str) -> list[str]:
    """`-l interval:*`: one `PROVIDER:UNIT:` line per unit of time."""
    names = [f"{provider}:{unit}:" for unit in LISTED_UNITS]
    return [n for n in names if list_matching([n, n[:-1]], pattern)]


class IntervalProvider(ProbeProvider):
    name = "interval"
    aliases = ("i",)
    prog_type = "perf_event"
    attach_kind = "perf_event"
    doc = "timed output on one CPU: interval:s|ms|us|hz:N"

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return list_units(self.name, pattern)

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        unit, n = parse_rate(self.name, parts)
        if unit == "hz":
            period = 1_000_000_000 // n
        elif unit in UNIT_NS:
            period = UNIT_NS[unit] * n
        else:
            raise ProbeError(f"{unit} is not an accepted unit", ["Use s, ms, us or hz"])
        attach = {
            "kind": self.attach_kind, "type": PERF_TYPE_SOFTWARE, "config": PERF_COUNT_SW_CPU_CLOCK,
            "period": period, "cpus": "one",
        }
        return [ProbeSpec(self.name, f"interval:{unit}:{n}", {"unit": unit, "rate": n}, attach)]
