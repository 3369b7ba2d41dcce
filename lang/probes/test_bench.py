"""test:NAME and bench:NAME: probes run only by `--test` / `--bench`.

They have no kernel event. `--test` runs each test probe once with
BPF_PROG_TEST_RUN and reports whether it passed; `--bench` runs each
bench probe repeatedly and reports the average time (runtime/checks.py).
Without the mode they are loaded but never run."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec


class _Named(ProbeProvider):
    prog_type = "raw_tracepoint"
    attach_kind = "test_run"

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) != 1:
            raise ProbeError(f"{self.name} probe type requires 1 argument, found {len(parts)}")
        if not parts[0]:
            raise ProbeError(f"{self.name} probes must have a name")
        return [ProbeSpec(self.name, f"{self.name}:{parts[0]}", {"name": parts[0]},
                          {"kind": self.attach_kind, "when": self.runs_at, "name": parts[0]})]


class TestProvider(_Named):
    name = "test"
    runs_at = "TEST"
    doc = "a unit test run by --test: test:NAME"


class BenchProvider(_Named):
    name = "bench"
    runs_at = "BENCH"
    doc = "a benchmark run by --bench: bench:NAME"
