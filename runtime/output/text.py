"""bpftrace's text output (src/output/text.cpp), byte for byte.

Every function returns exactly the characters bpftrace writes, trailing
newline included.  Which stream each goes to is given by the *_STREAM
constants: in text mode the attach notice and lost-event notices go to
stderr, everything else to stdout (or the -o file).
"""

from __future__ import annotations

import errno
import os

# The value model (values.py, dataclasses) is imported when a value is first printed, not
# before: the attach notice is printed from here, and a program's start ends with it.

ATTACH_STREAM = 'stderr'        # TextOutput::attached_probes writes err_
LOST_EVENTS_STREAM = 'stderr'   # TextOutput::lost_events writes err_


def byte_len(s: str) -> int:
    return len(s.encode('utf-8', 'surrogateescape'))


class StreamState:
    """The bits of std::ostream formatting state bpftrace relies on.  Width
    applies to the next formatted write only; the rest is sticky."""

    def __init__(self, width=0, fill=' ', left=False, showpos=False,
                 showbase=False, base=10, upper=False):
        self.width, self.fill, self.left = width, fill, left
        self.showpos, self.showbase = showpos, showbase
        self.base, self.upper = base, upper

    def put_str(self, s: str) -> str:
        w, self.width = self.width, 0
        n = byte_len(s)
        if w > n:
            pad = self.fill * (w - n)
            return s + pad if self.left else pad + s
        return s

    def put_int(self, v: int, signed: bool = True) -> str:
        """num_put::_M_insert_int (libstdc++)."""
        if self.base == 10:
            if v < 0:
                s = '-' + str(-v)
            elif signed and self.showpos:
                s = '+' + str(v)
            else:
                s = str(v)
        else:
            u = v & ((1 << 64) - 1)
            s = format(u, 'o' if self.base == 8 else 'x')
            if self.upper:
                s = s.upper()
            if self.showbase and u:
                s = ('0' if self.base == 8 else ('0X' if self.upper else '0x')) + s
        return self.put_str(s)


def hex_format_buffer(data: bytes, keep_ascii=True, escape_hex=True) -> str:
    """util::hex_format_buffer."""
    out = []
    for i, b in enumerate(data):
        if keep_ascii and 32 <= b <= 126:
            out.append(chr(b))
        elif escape_hex:
            out.append('\\x%02x' % b)
        else:
            out.append('%02x' % b if i == len(data) - 1 else '%02x ' % b)
    return ''.join(out)


def emit(v, st: StreamState | None = None) -> str:
    """TextEmitter<Primitive>: the text form of one value."""
    st = st or StreamState()
    if v is None:
        return st.put_str('null')
    if isinstance(v, bool):
        return st.put_str('true' if v else 'false')
    if isinstance(v, int):
        return st.put_int(v, signed=v < (1 << 63))
    if isinstance(v, str):
        return st.put_str(v)
    if isinstance(v, bytes):
        return st.put_str(hex_format_buffer(v))
    if isinstance(v, tuple):
        return _seq(v, st, '(', ', ', ')')   # tuples get spaces, arrays do not
    if isinstance(v, list):
        return _seq(v, st, '[', ',', ']')
    from .values import Record, Symbolic

    if isinstance(v, Symbolic):
        return st.put_str(v.symbol)
    if isinstance(v, Record):
        if not v.fields:
            return st.put_str('{}')
        parts = [st.put_str('{ ')]
        for i, (name, x) in enumerate(v.fields):
            if i:
                parts.append(st.put_str(', '))
            parts += [st.put_str('.'), st.put_str(name), st.put_str(' = '), emit(x, st)]
        parts.append(st.put_str(' }'))
        return ''.join(parts)
    raise TypeError(f"cannot print value of type {type(v).__name__}")


def _seq(v, st, open_, sep, close) -> str:
    parts = [st.put_str(open_)]
    for i, x in enumerate(v):
        if i:
            parts.append(st.put_str(sep))
        parts.append(emit(x, st))
    parts.append(st.put_str(close))
    return ''.join(parts)


def format_primitive(v) -> str:
    """The text of a value without newline, e.g. ``(1, abc)``."""
    return emit(v)


def format_value(v) -> str:
    """What print(value) writes for a non-map value (newline included)."""
    return emit(v) + '\n'


def _strip_parens(s: str) -> str:
    if len(s) >= 2 and s[0] == '(' and s[-1] == ')':
        return s[1:-1]
    return s


def format_key(key: tuple) -> str:
    """What goes between ``@x[`` and ``]``: the key's text, with the
    parentheses of a tuple key stripped (multi-key maps are tuple keys)."""
    return _strip_parens(emit(key[0] if len(key) == 1 else tuple(key)))


# --- histograms --------------------------------------------------------------

def _adjacent(a, b) -> bool:
    return (isinstance(a, int) and not isinstance(a, bool) and
            isinstance(b, int) and not isinstance(b, bool) and a + 1 == b)


def _f32(x: float) -> float:
    import struct
    return struct.unpack('f', struct.pack('f', x))[0]


def _bar_width(count: int, max_value: int) -> int:
    # (count / static_cast<float>(max_value)) * 52, in float, truncated
    if max_value == 0:
        return 0   # bpftrace would compute NaN here (all counts 0 after div)
    return int(_f32(_f32(_f32(float(count)) / _f32(float(max_value))) * 52.0))


def format_hist(h: HistView) -> str:
    """TextEmitter<Value::Histogram>: one line per bucket."""
    out = []
    max_value = max(h.counts, default=0)
    labels, lb = h.labels, h.lower_bound
    for i, count in enumerate(h.counts):
        if i == 0:
            if lb is None:
                header = f"(..., {emit(labels[0])})"
            elif not labels:
                header = f"[{emit(lb)}, ...)"
            elif _adjacent(lb, labels[0]):
                header = f"[{emit(lb)}]"
            else:
                header = f"[{emit(lb)}, {emit(labels[0])})"
        elif i >= len(labels):
            header = f"[{emit(labels[i - 1])}, ...)"
        elif _adjacent(labels[i - 1], labels[i]):
            header = f"[{emit(labels[i - 1])}]"
        else:
            header = f"[{emit(labels[i - 1])}, {emit(labels[i])})"
        bar = '@' * _bar_width(count, max_value)
        out.append(f"{header:<16}{count:>8} |{bar:<52}|\n")
    return ''.join(out)


# --- maps --------------------------------------------------------------------

_MULTI_LINE: dict = {}


def multi_line() -> dict:
    """Values printed on the lines after their name: text by type (the value model is
    imported when the first value is printed, not at the start)."""
    if not _MULTI_LINE:
        from .tseries_text import format_tseries
        from .values import HistView, TimeSeriesView

        _MULTI_LINE.update({HistView: format_hist, TimeSeriesView: format_tseries})
    return _MULTI_LINE


def _emit_value(v) -> str:
    formatter = multi_line().get(type(v))
    return emit(v) if formatter is None else formatter(v)


def _emit_map(name: str, m: OrderedMap) -> str:
    out = []
    for key, value in m.entries:
        sep = ']:\n' if type(value) in multi_line() else ']: '
        out.append(f"{name}[{_strip_parens(emit(key))}{sep}{_emit_value(value)}\n")
    return ''.join(out)


def format_map_value(name: str, value) -> str:
    """TextOutput::map for an already built output value."""
    from .values import OrderedMap, StatsValue

    if type(value) in multi_line():
        return f"{name}:\n{_emit_value(value)}\n"
    if isinstance(value, StatsValue):
        if isinstance(value.value, OrderedMap):
            return _emit_map(name, value.value)
        return f"{name}: {emit(value.value)}\n"
    if isinstance(value, OrderedMap):
        return _emit_map(name, value)
    return f"{name}: {emit(value)}\n"


def format_map(m: MapData, top: int = 0, div: int = 1, *, at_exit: bool = False) -> str:
    """What print(@m, top, div) writes (``at_exit``: what the end-of-run map
    dump writes for this map -- the only difference is that an empty scalar
    map prints nothing there instead of its zero value).  There are no blank
    lines around maps in current bpftrace except the one that ends each
    histogram."""
    from .values import map_value

    return format_map_value(m.name, map_value(m, top, div, at_exit=at_exit))


def end() -> str:
    """TextOutput::end(): written once when the run stops, before the maps."""
    return "\n\n"


def format_exit(maps: list, print_maps: bool = True) -> str:
    """Everything written after the run ends: end() then every map sorted by
    name (bytecode maps live in a std::map<std::string>)."""
    out = [end()]
    if print_maps:
        for m in sorted(maps, key=lambda m: m.name.encode('utf-8', 'surrogateescape')):
            out.append(format_map(m, at_exit=True))
    return ''.join(out)


# --- events ------------------------------------------------------------------

def attached_probes(n: int) -> str:
    return f"Attached {n} probe\n" if n == 1 else f"Attached {n} probes\n"


def lost_events(n: int) -> str:
    return f"Lost {n} events\n"


def total_lost_events(n: int) -> str:
    """LOG(WARNING) printed to stderr at exit when any event was lost
    (uncolored form; bpftrace colors it yellow when stderr is a tty)."""
    return f"WARNING: Total lost event count: {n}\n"


def format_printf_event(text: str) -> str:
    return text


def time_event(text: str) -> str:
    return text


def cat_event(text: str) -> str:
    return text


def iter_event(text: str) -> str:
    """An iterator's output, as its program wrote it (bpf_seq_printf)."""
    return text


def join_event(text: str) -> str:
    return text + "\n"


def syscall_event(text: str) -> str:
    return text + "\n"


# --- --test and --bench ---------------------------------------------------------

GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"


def _duration_unit(ns: int) -> tuple[str, int]:
    """util::duration_str: the unit and its scale for a duration."""
    for unit, scale in (("s", 1_000_000_000), ("ms", 1_000_000), ("μs", 1_000)):
        if ns >= scale:
            return unit, scale
    return "ns", 1


def _tests(n: int) -> str:
    return "test" if n == 1 else "tests"


def test_result(names: list[str], index: int, duration_ns: int, passed: list[bool], output: str) -> str:
    """TextOutput::test_result: a gtest-like block per test, the summary after
    the last. (Like bpftrace, the duration shows the unit's scale.)"""
    out = []
    if index == 0:
        out.append(f"{GREEN}[==========]{RESET} Running {len(names)} tests.\n")
    name = names[index]
    out.append(f"{GREEN}[ RUN      ]{RESET} {name}\n")
    if passed[index]:
        out.append(f"{GREEN}[       OK ]{RESET} {name}")
    else:
        out.extend(line + "\n" for line in output.split("\n") if line)
        out.append(f"{RED}[  FAILED  ]{RESET} {name}")
    unit, scale = _duration_unit(duration_ns)
    out.append(f" ({scale} {unit})\n")
    if index == len(names) - 1:
        failed = passed.count(False)
        ok = passed.count(True)
        out.append(f"{GREEN}[==========]{RESET} {len(names)} {_tests(len(names))} ran.\n")
        out.append(f"{GREEN}[  PASSED  ]{RESET} {ok} {_tests(ok)}.\n")
        if failed:
            out.append(f"{RED}[  FAILED  ]{RESET} {failed} {_tests(failed)}, listed below:\n")
            out.extend(f"{RED}[  FAILED  ]{RESET} {n}\n" for n, p in zip(names, passed) if not p)
    return "".join(out)


def benchmark_result(names: list[str], index: int, average_ns: int, iters: int) -> str:
    """TextOutput::benchmark_result: a table, its header before the first row."""
    width = max([40, len("Benchmark")] + [len(n) for n in names]) + 1
    out = []
    if index == 0:
        out.append(f"{'Benchmark':<{width}}{'Time(ns)':<15}Iterations\n")
        out.append("-" * (width + 15 + len("Iterations")) + "\n")
    out.append(f"{names[index]:<{width}}{average_ns:<15}{iters}\n")
    return "".join(out)


# bpftrace's words for some helper failures (TextOutput::runtime_error); others are strerror's.
# A map lookup's retcode is always 0 (bpftrace reports a missing key as that).
HELPER_MESSAGES = {("map_delete_elem", -errno.ENOENT): "Can't delete map element because it does not exist.",
                   ("map_lookup_elem", None): "Can't lookup map element because it does not exist.",
                   ("map_update_elem", -errno.E2BIG): "Map full; can't update element. Try increasing max_map_keys "
                   "config or manually setting the max entries in a map declaration e.g. `let @a = hash(5000)`"}


def helper_message(helper: str, retcode: int) -> str:
    """What a failed helper means: bpftrace's words, else strerror (also JSON's "msg")."""
    return HELPER_MESSAGES.get((helper, retcode), HELPER_MESSAGES.get((helper, None))) or os.strerror(-retcode)


def helper_error_event(helper: str, retcode: int, source: dict) -> str:
    """A helper failed at run time: a warning at the call, as bpftrace's LOG(WARNING) prints it."""
    return (f"{source.get('label', '')}: WARNING: {helper_message(helper, retcode)}\n"
            f"Additional Info - helper: {helper}, retcode: {retcode}\n{source.get('context', '')}\n")


def message_event(severity: str, text: str, source: dict) -> str:
    """errorf()/warnf() (TextOutput::printf): the text at the call, then each
    macro call it was expanded from with its source context. One trailing
    newline of the text is dropped (bpftrace's LOG does)."""
    text = text[:-1] if text.endswith("\n") else text
    lines = [f"{source.get('label', '')}: {severity}: {text}\n"]
    lines += [f"{label}: {severity}: expanded from\n{context}\n" for label, context in source.get("expanded_from", [])]
    return "".join(lines)
