"""A Prometheus exporter for a running program's maps (`pytrace --prometheus
[HOST:]PORT`, `probes.serve_prometheus(port)`), on prometheus_client.

Every scrape reads the live maps. A map `@name` is metric `pytrace_name` (the
anonymous map `@` is `pytrace_map`); its key parts are labels (named as
runtime/output/keys.py says). Each aggregation's metric is named by its
`prometheus` field in lang/aggregations.py, a key of METRICS here:

    count                     counter   pytrace_name_total
    sum, min, max, integers   gauge     pytrace_name
    avg                       gauge     pytrace_name (the average), pytrace_name_count, pytrace_name_sum
    stats                     summary   pytrace_name_count, pytrace_name_sum
    hist, lhist               histogram pytrace_name_bucket{le=...}

A histogram's `le` is the inclusive upper bound of an integer bucket: hist's
[4, 8) is le="7". hist() exports every bucket from the negative one (le="-1")
up to the highest any key of the map has reached since the exporter started
(so a bucket never hit is there, and a series never disappears); lhist()
exports all its buckets.

Maps whose values are not numbers (strings, tuples, stacks, tseries()) are
left out, and notes() says which. At most `max_keys` label sets per map are
served (the largest values kept), with a warning the first time a map has more.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Callable

from pytrace.lang import aggregations
from pytrace.runtime.output import buckets as bucket_math
from pytrace.runtime.output import keys as key_names
from pytrace.runtime.output.values import Symbolic

DEFAULT_MAX_KEYS = 1000
NUMERIC_LAYOUTS = ("int", "bool", "pointer")  # plain map values that are metrics


def metric_name(map_name: str) -> str:
    return "pytrace_" + (map_name[1:] or "map")


def _number(value) -> float:
    if isinstance(value, Symbolic):
        return value.numeric
    return int(value)


# --- one builder per `prometheus` key: (name, doc, label names, [(label values, value)], state) -> families


def _counter(name, doc, labels, rows, state):
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, doc, labels=labels)
    for values, v in rows:
        family.add_metric(values, _number(v))
    return [family]


def _gauge(name, doc, labels, rows, state):
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, v in rows:
        family.add_metric(values, _number(v))
    return [family]


def _avg(name, doc, labels, rows, state):
    from prometheus_client.core import GaugeMetricFamily

    average = GaugeMetricFamily(name, doc, labels=labels)
    count = GaugeMetricFamily(name + "_count", f"{doc}: how many values", labels=labels)
    total = GaugeMetricFamily(name + "_sum", f"{doc}: their sum", labels=labels)
    for values, v in rows:
        average.add_metric(values, v.average)
        count.add_metric(values, v.count)
        total.add_metric(values, v.total)
    return [average, count, total]


def _stats(name, doc, labels, rows, state):
    from prometheus_client.core import SummaryMetricFamily

    family = SummaryMetricFamily(name, doc, labels=labels)
    for values, v in rows:
        family.add_metric(values, count_value=v.count, sum_value=v.total)
    return [family]


def _histogram_family(name, doc, labels, rows, last_bucket):
    """Cumulative buckets 0..last_bucket(h), `le` the inclusive integer bound, then +Inf."""
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(name, doc, labels=labels)
    for values, h in rows:
        cumulative, points = 0, []
        for b in bucket_math.buckets(h, 0, last_bucket(h)):
            cumulative += b.count
            if b.high is None:  # the open top bucket is +Inf's
                break
            points.append((str(b.high - 1), cumulative))
        points.append(("+Inf", sum(h.buckets.values())))
        family.add_metric(values, points, sum_value=None)
    return [family]


def _hist(name, doc, labels, rows, state):
    """Every power-of-two bucket up to the highest any key has reached since the exporter started."""
    state["top"] = max([state.get("top", 0)] + [max(h.buckets, default=0) for _, h in rows])
    return _histogram_family(name, doc, labels, rows, lambda h: min(state["top"], bucket_math.last_index(h)))


def _lhist(name, doc, labels, rows, state):
    """Every linear bucket."""
    return _histogram_family(name, doc, labels, rows, bucket_math.last_index)


@dataclass(frozen=True)
class Metric:
    build: Callable  # (name, doc, label names, rows, state) -> metric families
    weight: Callable  # a value's size, to keep the largest when a map has too many keys


METRICS = {
    "counter": Metric(_counter, _number),
    "gauge": Metric(_gauge, _number),
    "avg": Metric(_avg, lambda v: v.count),
    "stats": Metric(_stats, lambda v: v.count),
    "hist": Metric(_hist, lambda h: sum(h.buckets.values())),
    "lhist": Metric(_lhist, lambda h: sum(h.buckets.values())),
}


def _plan(spec) -> tuple[str, str]:
    """(METRICS key, "") for an exported map, ("", why not) for one left out."""
    agg = aggregations.get(spec.kind)
    if agg is not None:
        return (agg.prometheus, "") if agg.prometheus else ("", f"{spec.kind}() values are not metrics")
    layout = (spec.value_layout or {}).get("kind", "bytes")
    if spec.kind == "scalar" and layout in NUMERIC_LAYOUTS:
        return "gauge", ""
    return "", f"its values are {layout}s, not numbers"


class MapCollector:
    """A prometheus_client collector over a program's maps. `read_map(name)`
    returns the live MapData; a map that cannot be read (the program has
    ended) is left out of that scrape."""

    def __init__(self, artifact, read_map: Callable, *, max_keys: int = DEFAULT_MAX_KEYS, warn=None) -> None:
        self.read_map = read_map
        self.max_keys = max_keys
        self.labels = list(artifact.prometheus_labels)
        self.warn = warn or sys.stderr.write
        self.exported: list[tuple[object, str]] = []
        self.left_out: list[tuple[str, str]] = []
        for spec in sorted(artifact.maps, key=lambda m: m.name):
            if spec.name.startswith("__") or spec.kind == "internal":
                continue
            kind, why = _plan(spec)
            if kind:
                self.exported.append((spec, kind))
            else:
                self.left_out.append((spec.name, why))
        self._state: dict[str, dict] = {spec.name: {} for spec, _ in self.exported}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def notes(self) -> str:
        """What the program's start-up says about the maps left out."""
        return "".join(f"NOTE: {name} is not exported to Prometheus: {why}\n" for name, why in self.left_out)

    def _bounded(self, name: str, entries: list, metric: Metric) -> list:
        if len(entries) <= self.max_keys:
            return entries
        if name not in self._warned:
            self._warned.add(name)
            self.warn(f"WARNING: {name} has {len(entries)} keys, more than the {self.max_keys} the Prometheus "
                      f"exporter serves per map: only the {self.max_keys} largest values are exported\n")
        return sorted(entries, key=lambda e: metric.weight(e[1]), reverse=True)[: self.max_keys]

    def collect(self):
        with self._lock:
            families = []
            for spec, kind in self.exported:
                try:
                    data = self.read_map(spec.name)
                except (RuntimeError, OSError):  # the program was closed meanwhile: nothing to serve
                    continue
                metric = METRICS[kind]
                parts = len(key_names.key_parts(data.entries[0][0])) if data.entries else 0
                names = key_names.part_names(parts, self.labels)
                entries = self._bounded(spec.name, data.entries, metric)
                rows = [([key_names.part_text(p) for p in key_names.key_parts(k)], v) for k, v in entries]
                doc = f"pytrace map {spec.name} ({spec.kind})"
                families.extend(metric.build(metric_name(spec.name), doc, names, rows, self._state[spec.name]))
        yield from families


def parse_address(text: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """`[HOST:]PORT` (an IPv6 host in brackets: `[::1]:9100`) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = default_host
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid --prometheus address '{text}': expected [HOST:]PORT")
    return host, int(port)


class Exporter:
    """An HTTP server for /metrics on a thread of its own; close() stops it."""

    def __init__(self, collector: MapCollector, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self.collector = collector
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        self._server, self._thread = start_http_server(port, host, registry)
        self.port = self._server.server_port
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}/metrics"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None


def serve(artifact, read_map: Callable, host: str, port: int, *, max_keys: int = DEFAULT_MAX_KEYS,
          warn=None) -> Exporter:
    """Start serving the program's maps; its notes (maps left out) go to `warn` (stderr)."""
    collector = MapCollector(artifact, read_map, max_keys=max_keys, warn=warn)
    exporter = Exporter(collector, host, port)
    collector.warn(collector.notes())
    return exporter
