"""bpftrace's JSON output (src/output/json.cpp): one NDJSON line per event.

Every function returns the full line including its trailing newline, or ""
when bpftrace writes nothing.  All JSON lines go to stdout (or the -o file),
including attached_probes and lost_events.

Quirk reproduced on purpose: bpftrace escapes control characters and bytes
>= 0x80 (char is signed on x86) as ``"\\u" << std::hex << int(c)``, which
leaves std::hex set on the output stream for the rest of the run.  After
that, the numbers bpftrace writes with ``<<`` (hist bucket counts and the
lost_events / attached_probes counts) come out in hex.  STREAM tracks that
process-wide state; reset_stream_state() is for tests.
"""

from __future__ import annotations

import os
import time

from pytrace.lang import aggregations

from .text import emit as _text
from .values import (HistView, MapData, OrderedMap, Record, StatsValue,
                     Symbolic, TimeSeriesView, map_value, to_s64, to_u64, wrap_signed)


class _StreamState:
    hex = False


STREAM = _StreamState()


def reset_stream_state() -> None:
    STREAM.hex = False


def _stream_int(n: int) -> str:
    """An integer written with ``out << n`` on the (possibly hex) stream."""
    return format(n, 'x') if STREAM.hex else str(n)


def escape_string(s: str) -> str:
    """JsonEmitter<std::string>, byte by byte."""
    out = ['"']
    for b in s.encode('utf-8', 'surrogateescape'):
        if b == 0x22:
            out.append('\\"')
        elif b == 0x5c:
            out.append('\\\\')
        elif b == 0x0a:
            out.append('\\n')
        elif b == 0x0d:
            out.append('\\r')
        elif b == 0x09:
            out.append('\\t')
        elif b <= 0x1f or b >= 0x80:
            out.append('\\u' + format(wrap_signed(b, 8) & 0xffffffff, '04x'))
            STREAM.hex = True
        else:
            out.append(chr(b))
    out.append('"')
    return ''.join(out)


def _number(n: int) -> str:
    # integers not exactly representable as a double are emitted as strings
    s = str(n)
    return escape_string(s) if float(n) != n else s


def emit(v) -> str:
    """JsonEmitter<Primitive>."""
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, int):
        return _number(v)
    if isinstance(v, str):
        return escape_string(v)
    if isinstance(v, Symbolic):
        return _number(to_u64(v.numeric))   # JSON does not emit symbols
    if isinstance(v, bytes):
        return '[' + ','.join(str(wrap_signed(b, 8)) for b in v) + ']'
    if isinstance(v, (tuple, list)):
        return '[' + ','.join(emit(x) for x in v) + ']'   # arrays unspaced
    if isinstance(v, Record):
        return '{' + ', '.join(f"{escape_string(k)}: {emit(x)}" for k, x in v.fields) + '}'
    raise TypeError(f"cannot print value of type {type(v).__name__}")


def format_key(key) -> str:
    """Map keys: the text form, tuple parentheses stripped, spaces removed."""
    s = _text(key)
    if len(s) >= 2 and s[0] == '(' and s[-1] == ')':
        s = s[1:-1]
    return escape_string(s.replace(' ', ''))


def _one_less(label) -> int | None:
    if isinstance(label, Symbolic):
        u = to_u64(label.numeric)
        return -1 if u == 0 else to_s64(u - 1)
    if isinstance(label, int) and not isinstance(label, bool):
        return label - 1
    return None


def emit_hist(h: HistView) -> str:
    parts = []
    for i, count in enumerate(h.counts):
        s = '{'
        if i == 0 and h.lower_bound is not None:
            s += f'"min": {emit(h.lower_bound)}, '
        elif i > 0:
            s += f'"min": {emit(h.labels[i - 1])}, '
        if i < len(h.labels):
            less = _one_less(h.labels[i])
            s += f'"max": {emit(h.labels[i]) if less is None else _number(less)}, '
        s += f'"count": {_stream_int(count)}}}'
        parts.append(s)
    return '[' + ','.join(parts) + ']'


def interval_start(ns: int) -> str:
    """A time point as std::chrono prints a system_clock one: UTC, in nanoseconds."""
    seconds, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}"


def emit_tseries(ts: TimeSeriesView) -> str:
    """JsonEmitter<Value::TimeSeries>: the intervals that have a value."""
    return '[' + ','.join(f'{{"interval_start":"{interval_start(ns)}","value":{v}}}'
                          for ns, v in ts.points if v is not None) + ']'


def emit_value(v) -> str:
    """JsonEmitter<Value>."""
    if isinstance(v, HistView):
        return emit_hist(v)
    if isinstance(v, TimeSeriesView):
        return emit_tseries(v)
    if isinstance(v, StatsValue):
        return emit_value(v.value)
    if isinstance(v, OrderedMap):
        return '{' + ', '.join(f"{format_key(k)}: {emit_value(x)}" for k, x in v.entries) + '}'
    return emit(v)


def _data(type_: str, v: str, name: str | None = None) -> str:
    if name is not None:
        v = f"{{{escape_string(name)}: {v}}}"
    return f'{{"type": "{type_}", "data": {v}}}\n'


def format_map_value(name: str, value, type_: str = 'map') -> str:
    """JsonOutput::map for an already built output value; ``type_`` is the
    map's JSON type (lang/aggregations.py `json_type`, "map" for plain values)."""
    if isinstance(value, OrderedMap) and not value.entries:
        return ''
    return _data(type_, emit_value(value), name)


def json_type(kind: str) -> str:
    """The "type" of a map's JSON record, by its kind."""
    agg = aggregations.get(kind)
    return agg.json_type if agg is not None else 'map'


def format_map(m: MapData, top: int = 0, div: int = 1, *, at_exit: bool = False) -> str:
    """print(@m, top, div) in JSON; ``at_exit`` as in text.format_map."""
    return format_map_value(m.name, map_value(m, top, div, at_exit=at_exit), json_type(m.kind))


def format_exit(maps: list, print_maps: bool = True) -> str:
    """JsonOutput::end() writes nothing; then every map sorted by name."""
    if not print_maps:
        return ''
    return ''.join(format_map(m, at_exit=True)
                   for m in sorted(maps, key=lambda m: m.name.encode('utf-8', 'surrogateescape')))


def format_value(v) -> str:
    """print(value) of a non-map value."""
    return _data('value', emit(v))


def format_printf_event(text: str) -> str:
    return _data('printf', escape_string(text))


def time_event(text: str) -> str:
    return _data('time', escape_string(text))


def cat_event(text: str) -> str:
    return _data('cat', escape_string(text))


def iter_event(text: str) -> str:
    """An iterator's output, as its program wrote it: bpftrace copies it as is, in JSON mode too."""
    return text


def join_event(text: str) -> str:
    return _data('join', escape_string(text))


def syscall_event(text: str) -> str:
    return _data('syscall', escape_string(text))


def attached_probes(n: int) -> str:
    c = _stream_int(n)
    return f'{{"type": "attached_probes", "count": {c}, "data": {{"probes": {c}}}}}\n'


def lost_events(n: int) -> str:
    c = _stream_int(n)
    return f'{{"type": "lost_events", "count": {c}, "data": {{"events": {c}}}}}\n'


def test_result(names: list[str], index: int, duration_ns: int, passed: list[bool], output: str) -> str:
    """JsonOutput::test_result."""
    record = (f'{{"duration": {duration_ns}, "passed": {"true" if passed[index] else "false"}, '
              f'"output": {escape_string(output)}}}')
    return _data('test_result', record, names[index])


def benchmark_result(names: list[str], index: int, average_ns: int, iters: int) -> str:
    """JsonOutput::benchmark_result."""
    return _data('benchmark_result', f'{{"average": {average_ns}, "iters": {iters}}}', names[index])


def helper_error_event(helper: str, retcode: int, source: dict) -> str:
    """A helper failed at run time (JsonOutput::runtime_error): strerror's text, the helper, the place."""
    return (f'{{"type": "helper_error", "msg": {escape_string(os.strerror(-retcode))}, "helper": {escape_string(helper)}, '
            f'"retcode": {retcode}, "filename": {escape_string(source.get("filename", ""))}, '
            f'"line": {source.get("line", 0)}, "col": {source.get("column", 0)}}}\n')


def message_event(severity: str, text: str, source: dict) -> str:
    """errorf()/warnf() (JsonOutput::printf): the message and the call's place only."""
    kind = "errorf" if severity == "ERROR" else "warnf"
    filename = escape_string(source.get("filename", ""))
    return (f'{{"type": "{kind}", "msg": {escape_string(text)}, "filename": {filename}, '
            f'"line": {source.get("line", 0)}, "col": {source.get("column", 0)}}}\n')
