"""The probe-provider registry: every probe type, by name and alias.

Adding a probe type: write its provider module (a ProbeProvider subclass
declaring everything about it, see lang/probes/base.py) and register() it
below; nothing else in the compiler or the runtime names probe types."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeProvider
from pytrace.lang.probes.begin_end import BeginProvider, EndProvider
from pytrace.lang.probes.interval import IntervalProvider
from pytrace.lang.probes.kprobe import KprobeProvider, KretprobeProvider
from pytrace.lang.probes.fentry import FentryProvider, FexitProvider
from pytrace.lang.probes.pending import IterProvider
from pytrace.lang.probes.profile import ProfileProvider
from pytrace.lang.probes.rawtracepoint import RawTracepointProvider
from pytrace.lang.probes.self_signal import SelfProvider
from pytrace.lang.probes.software import HardwareProvider, SoftwareProvider
from pytrace.lang.probes.test_bench import BenchProvider, TestProvider
from pytrace.lang.probes.tracepoint import TracepointProvider
from pytrace.lang.probes.uprobe import UprobeProvider, UretprobeProvider
from pytrace.lang.probes.usdt import UsdtProvider
from pytrace.lang.probes.watchpoint import WatchpointProvider

PROVIDERS: list[ProbeProvider] = []
_BY_NAME: dict[str, ProbeProvider] = {}


def register(provider: ProbeProvider) -> None:
    """Add a probe type: its name and aliases now resolve to it, and `-l`
    lists it. A name already taken is an error."""
    names = (provider.name, *provider.aliases)
    taken = [n for n in names if n in _BY_NAME]
    if taken:
        raise ValueError(f"probe type name already registered: {', '.join(taken)}")
    PROVIDERS.append(provider)
    for n in names:
        _BY_NAME[n] = provider


def unregister(provider: ProbeProvider) -> None:
    """Remove a probe type added by register() (tests use it to clean up)."""
    PROVIDERS.remove(provider)
    for n in (provider.name, *provider.aliases):
        if _BY_NAME.get(n) is provider:
            del _BY_NAME[n]


for _p in (
    BeginProvider(), EndProvider(), TracepointProvider(), KprobeProvider(), KretprobeProvider(),
    UprobeProvider(), UretprobeProvider(), UsdtProvider(), RawTracepointProvider(),
    FentryProvider(), FexitProvider(), ProfileProvider(), IntervalProvider(),
    SoftwareProvider(), HardwareProvider(), WatchpointProvider(), IterProvider(),
    SelfProvider(), TestProvider(), BenchProvider(),
):
    register(_p)


def lookup(name: str) -> ProbeProvider | None:
    return _BY_NAME.get(name)


def all_names() -> list[str]:
    return sorted(_BY_NAME)
