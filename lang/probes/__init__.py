"""The probe-provider registry: every probe type, by name and alias.

Adding a probe type: write its provider module and add it to PROVIDERS."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeProvider
from pytrace.lang.probes.begin_end import BeginProvider, EndProvider
from pytrace.lang.probes.interval import IntervalProvider
from pytrace.lang.probes.kprobe import KprobeProvider, KretprobeProvider
from pytrace.lang.probes.fentry import FentryProvider, FexitProvider
from pytrace.lang.probes.pending import IterProvider
from pytrace.lang.probes.profile import ProfileProvider
from pytrace.lang.probes.rawtracepoint import RawTracepointProvider
from pytrace.lang.probes.software import HardwareProvider, SoftwareProvider
from pytrace.lang.probes.tracepoint import TracepointProvider
from pytrace.lang.probes.uprobe import UprobeProvider, UretprobeProvider
from pytrace.lang.probes.usdt import UsdtProvider
from pytrace.lang.probes.watchpoint import WatchpointProvider

PROVIDERS: list[ProbeProvider] = [
    BeginProvider(), EndProvider(), TracepointProvider(), KprobeProvider(), KretprobeProvider(),
    UprobeProvider(), UretprobeProvider(), UsdtProvider(), RawTracepointProvider(),
    FentryProvider(), FexitProvider(), ProfileProvider(), IntervalProvider(),
    SoftwareProvider(), HardwareProvider(), WatchpointProvider(), IterProvider(),
]

_BY_NAME: dict[str, ProbeProvider] = {}
for _p in PROVIDERS:
    for _n in (_p.name, *_p.aliases):
        _BY_NAME[_n] = _p


def lookup(name: str) -> ProbeProvider | None:
    return _BY_NAME.get(name)


def all_names() -> list[str]:
    return sorted(_BY_NAME)
