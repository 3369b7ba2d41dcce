"""Probe types whose attach-point syntax pytrace parses but cannot attach
yet: iter. It says so plainly."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec


class _Pending(ProbeProvider):
    min_parts, max_parts = 1, 3
    usage = ""

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if not (self.min_parts <= len(parts) <= self.max_parts) or not all(parts):
            raise ProbeError(f"{self.name} probe must be {self.usage}")
        return [ProbeSpec(self.name, f"{self.name}:{':'.join(parts)}", {"parts": parts},
                          {"kind": self.attach_kind, "parts": parts})]

    def unavailable_reason(self) -> str | None:
        return f"pytrace cannot attach {self.name} probes yet"


class IterProvider(_Pending):
    name, aliases, prog_type = "iter", ("it",), "tracing"
    attach_kind = "iter"  # no attacher yet
    max_parts = 2
    usage = "iter:TYPE[:PIN]"
    doc = "BPF iterators over kernel objects: " + usage
