"""self:signal:SIGUSR1: runs when pytrace itself receives the signal.

Like BEGIN and END it has no kernel event: the runtime runs it with
BPF_PROG_TEST_RUN, as a raw-tracepoint program, each time the signal arrives."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec

TRIGGERS = {"signal": ("SIGUSR1",)}  # trigger -> the signals it accepts, as bpftrace


class SelfProvider(ProbeProvider):
    name = "self"
    prog_type = "raw_tracepoint"
    attach_kind = "test_run"
    runs_at = "SIGNAL"
    doc = "runs when pytrace receives a signal: self:signal:SIGUSR1"

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) != 2:
            raise ProbeError(f"{self.name} probe type requires 2 arguments, found {len(parts)}")
        trigger, signal_name = parts
        if trigger not in TRIGGERS:
            raise ProbeError(f"{trigger} is not a supported trigger")
        if signal_name not in TRIGGERS[trigger]:
            raise ProbeError(f"{signal_name} is not a supported signal")
        return [ProbeSpec(self.name, f"self:{trigger}:{signal_name}", {"trigger": trigger, "signal": signal_name},
                          {"kind": self.attach_kind, "when": self.runs_at})]
