"""A new probe type is one provider module plus register(): nothing else in
the compiler names probe types. This test defines a small provider of its
own, registers it, and compiles a program that uses it through the passes
and codegen, checking that every declared property reaches the artifact.
Pure: no root, no BPF load, no host tracefs or BTF."""

import pytest

from conftest import fixture_options
from pytrace.codegen.artifact import Artifact
from pytrace.codegen.compile import generate
from pytrace.lang import btf, probes
from pytrace.lang import types as T
from pytrace.lang.passes import analyse
from pytrace.lang.probes import tracefs
from pytrace.lang.probes.base import RUNS_AT, ContextVar, ProbeError, ProbeProvider, ProbeSpec, list_matching
from pytrace.lang.source import Source

RATES = {"fast": 1_000_000, "slow": 1_000_000_000}  # ticker name -> period in ns


class TickerProvider(ProbeProvider):
    """ticker:NAME (`tk:`): a made-up timer on one CPU, with two variables:
    `tick` (the period, a constant per attach point) and `ptr` (the first
    u64 of the context, which the probe type says points to user memory)."""

    name = "ticker"
    aliases = ("tk",)
    doc = "a test-only timer: ticker:NAME"
    prog_type = "perf_event"
    attach_kind = "perf_event"
    addrspace = "user"
    pid_predicate = True
    program_per_attach_point = True
    warn_never_fired = "ticker"
    fires_newest_first = True
    variable_names = ("tick", "ptr")

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) != 1 or not parts[0]:
            raise ProbeError("ticker probe must be ticker:NAME")
        names = list_matching(RATES, parts[0])
        if not names:
            raise ProbeError(f"No tickers match {raw}")
        return [ProbeSpec(self.name, f"ticker:{n}", {"ticker": n},
                          {"kind": self.attach_kind, "type": 1, "config": 0, "period": RATES[n], "cpus": "one"})
                for n in names]

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        if name == "tick":
            return ContextVar(T.U64, const=RATES[spec.target["ticker"]])
        if name == "ptr":
            return ContextVar(T.U64, 0)
        return None

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        return list_matching([f"ticker:{n}" for n in RATES], pattern)

    def completions(self, fields: list[str]) -> list[str]:
        return sorted(RATES) if len(fields) == 1 else []


@pytest.fixture
def ticker(monkeypatch):
    """The ticker provider, registered for one test; the host's tracefs and
    BTF made unreachable, to show compiling it needs neither."""

    def unreachable(*args, **kwargs):
        raise AssertionError("compiling a ticker probe read host tracefs or BTF")

    monkeypatch.setattr(tracefs, "root", unreachable)
    monkeypatch.setattr(tracefs, "available_filter_functions", unreachable)
    monkeypatch.setattr(btf.BTF, "kernel", unreachable)
    provider = TickerProvider()
    probes.register(provider)
    yield provider
    probes.unregister(provider)


def compile_(text: str, debug: dict | None = None, **options) -> Artifact:
    return generate(analyse(Source("stdin", text), fixture_options(**options)), debug)


def test_registered_by_name_and_alias(ticker):
    assert probes.lookup("ticker") is ticker
    assert probes.lookup("tk") is ticker
    assert ticker in probes.PROVIDERS
    assert ticker.listable
    assert ticker.list_probes("ticker:f*") == ["ticker:fast"]


def test_the_repl_completes_its_attach_points(ticker):
    from prompt_toolkit.document import Document

    from pytrace.runtime.repl_prompt import ReplCompleter

    text = "tk:f"
    found = ReplCompleter(None).get_completions(Document(text, len(text)), None)
    assert [c.text for c in found] == ["fast"]


def test_unregister_removes_every_name():
    provider = TickerProvider()
    probes.register(provider)
    probes.unregister(provider)
    assert probes.lookup("ticker") is None and probes.lookup("tk") is None
    assert provider not in probes.PROVIDERS


def test_a_taken_name_is_refused():
    class Clash(TickerProvider):
        name, aliases = "ticker2", ("k",)  # `k` is kprobe's

    with pytest.raises(ValueError):
        probes.register(Clash())
    assert probes.lookup("ticker2") is None


def test_program_compiles_with_the_providers_properties(ticker):
    dbg: dict = {}
    art = compile_('tk:* { @[tick] = count(); printf("%s\\n", str(ptr)); }', dbg)
    # program_per_attach_point: one program for each ticker, though nothing differs.
    assert [p.probe for p in art.programs] == ["ticker:fast", "ticker:slow"]
    for prog in art.programs:
        assert prog.provider == "ticker"
        assert prog.prog_type == "perf_event"
        assert prog.warn_never_fired == "ticker"
        assert prog.fires_newest_first
        assert prog.when == ""
        assert prog.insns
    assert [p.attach for p in art.programs] == [
        [{"kind": "perf_event", "type": 1, "config": 0, "period": RATES[n], "cpus": "one"}]
        for n in ("fast", "slow")]
    # addrspace "user": str() of the integer variable reads user memory.
    assert "probe_read_user_str" in dbg["ir_unoptimised"]
    assert "probe_read_kernel_str" not in dbg["ir_unoptimised"]
    again = Artifact.from_json(art.to_json())
    assert [p.warn_never_fired for p in again.programs] == ["ticker", "ticker"]
    assert [p.fires_newest_first for p in again.programs] == [True, True]


def test_integer_cast_to_pointer_points_to_the_providers_address_space(ticker):
    ctx = analyse(Source("stdin", "ticker:fast { @ = *(uint32 *)ptr; }"), fixture_options())
    cast = ctx.units[0].probe.block.stmts[0].value.operand
    assert isinstance(cast.type, T.PointerType) and cast.type.addrspace == "user"


def test_pid_predicate_is_added_with_minus_p(ticker):
    ctx = analyse(Source("stdin", "ticker:fast { @ = count(); }"), fixture_options(pid_filter=42))
    predicate = ctx.units[0].probe.predicate
    assert predicate is not None and predicate.op == "=="


def test_begin_has_no_pid_predicate_and_runs_at_begin():
    ctx = analyse(Source("stdin", "BEGIN { @ = count(); }"), fixture_options(pid_filter=42))
    assert ctx.units[0].probe.predicate is None
    assert ctx.units[0].provider.runs_at == "BEGIN"


def test_every_provider_declares_valid_properties():
    for p in probes.PROVIDERS:
        assert p.prog_type and p.attach_kind, p.name
        assert p.addrspace in ("kernel", "user", "any"), p.name
        assert p.runs_at in RUNS_AT, p.name
