"""BEGIN and END: run once, before the first and after the last event.

They have no kernel event; the runtime runs them with BPF_PROG_TEST_RUN as
raw-tracepoint programs, so they see the tracer's own pid and comm."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec


class _Special(ProbeProvider):
    prog_type = "raw_tracepoint"
    attach_kind = "test_run"
    program_per_attach_point = True  # `BEGIN,END { }`: each runs at its own time

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if parts:
            raise ProbeError(f"{self.name} probe type takes no arguments")
        # the `probe` builtin says "begin"/"end", as bpftrace names these probes today
        return [ProbeSpec(self.name, self.name.lower(), {}, {"kind": self.attach_kind, "when": self.runs_at})]


class BeginProvider(_Special):
    name = "BEGIN"
    runs_at = "BEGIN"
    aliases = ("begin",)
    doc = "runs once when the program starts"


class EndProvider(_Special):
    name = "END"
    runs_at = "END"
    aliases = ("end",)
    doc = "runs once when the program exits"
