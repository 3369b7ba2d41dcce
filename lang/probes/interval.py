"""interval:UNIT:N (`i:`): fires on one CPU every N units (s, ms, us, hz)."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec, list_matching

UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
LISTED_UNITS = ("hz", "ms", "s", "us")  # what `-l` shows, as bpftrace does
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_CPU_CLOCK = 0


def parse_rate(provider: str, parts: list[str]) -> tuple[str, int]:
    """(unit, count) of `provider:UNIT:N`, or of `provider:N` with N in
    nanoseconds or with a duration suffix (`i:500ms`, `p:1000000`), as bpftrace
    reads them: the period becomes microseconds, at least 1us."""
    from pytrace.lang.parser import parse_int

    if len(parts) == 1 and parts[0]:
        value, error = parse_int(parts[0])
        if error:
            raise ProbeError(f"Invalid rate of {provider} probe: {error}")
        if value < 1000:
            raise ProbeError(f"Invalid rate of {provider} probe. Minimum is 1000 or 1us. "
                             f"Found: {value} nanoseconds")
        return "us", value // 1000
    if len(parts) != 2:
        raise ProbeError(f"{provider} probe type requires 1 or 2 arguments, found {len(parts)}")
    unit, count = parts
    if not unit:
        raise ProbeError(f"{provider} probe must have unit of time")
    if unit not in UNIT_NS and unit != "hz":
        raise ProbeError(f"{unit} is not an accepted unit of time")
    n, error = parse_int(count)
    if error:
        raise ProbeError(f"Invalid rate of {provider} probe: {error}")
    if n <= 0:
        raise ProbeError(f"{provider} frequency should be a positive integer")
    return unit, n


def list_units(provider: str, pattern: str) -> list[str]:
    """`-l interval:*`: one `PROVIDER:UNIT:` line per unit of time."""
    names = [f"{provider}:{unit}:" for unit in LISTED_UNITS]
    return [n for n in names if list_matching([n, n[:-1]], pattern)]


def listed_rate(spec: ProbeSpec) -> str:
    """`interval:ms:100` is listed as its unit, `interval:ms:` (and so profile, software, hardware)."""
    return spec.name.rsplit(":", 1)[0] + ":"


class IntervalProvider(ProbeProvider):
    name = "interval"
    aliases = ("i",)
    prog_type = "perf_event"
    attach_kind = "perf_event"
    doc = "timed output on one CPU: interval:s|ms|us|hz:N"

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return list_units(self.name, pattern)

    def listed_name(self, spec: ProbeSpec) -> str | None:
        return listed_rate(spec)

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
