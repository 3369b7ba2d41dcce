"""JSON (NDJSON) output, checked against current bpftrace.

Expected lines come from bpftrace's tests/runtime/json-output (exact EXPECT
lines) and tests/runtime/outputs/*.json (compared there as parsed JSON; the
spacing here is the one src/output/json.cpp writes), plus Debian bpftrace
0.17 runs adjusted for current bpftrace's source.
"""

import json as stdjson
from collections import Counter

import pytest

from pytrace.runtime.output import json
from pytrace.runtime.output.values import (
    Avg, Hist, LHist, MapData, Record, Stats, Symbolic, hist_index, lhist_index)


def H(values, k=0):
    return Hist(dict(Counter(hist_index(v, k) for v in values)), k)


def L(values, lo, hi, step):
    return LHist(lo, hi, step, dict(Counter(lhist_index(v, lo, hi, step) for v in values)))


@pytest.fixture(autouse=True)
def fresh_stream():
    json.reset_stream_state()
    yield
    json.reset_stream_state()


def b(lo, hi, count):
    return f'{{"min": {lo}, "max": {hi}, "count": {count}}}'


def test_scalar_maps():
    assert json.format_map(MapData('@scalar', 'scalar', [(None, 5)])) == \
        '{"type": "map", "data": {"@scalar": 5}}\n'
    assert json.format_map(MapData('@scalar_str', 'scalar', [(None, "a b \n d e")])) == \
        '{"type": "map", "data": {"@scalar_str": "a b \\n d e"}}\n'
    assert json.format_map(MapData('@', 'scalar', [(None, (1, 2, "string", (4, 5)))])) == \
        '{"type": "map", "data": {"@": [1,2,"string",[4,5]]}}\n'
    assert json.format_map(MapData('@', 'scalar', [(None, (1, 2, 'string with "quotes"'))])) == \
        '{"type": "map", "data": {"@": [1,2,"string with \\"quotes\\""]}}\n'
    rec = Record((('a', 0), ('b', 1), ('c', 'str'), ('d', (5, 6)), ('e', Record((('x', 1), ('y', 2))))))
    assert json.format_map(MapData('@a', 'scalar', [(None, rec)])) == \
        '{"type": "map", "data": {"@a": {"a": 0, "b": 1, "c": "str", "d": [5,6], "e": {"x": 1, "y": 2}}}}\n'
    assert json.format_map(MapData('@', 'scalar', [(None, 50)])) == \
        '{"type": "map", "data": {"@": 50}}\n'


def test_keyed_maps():
    assert json.format_map(MapData('@map', 'scalar', [(('key1',), 2), (('key2',), 3)])) == \
        '{"type": "map", "data": {"@map": {"key1": 2, "key2": 3}}}\n'
    assert json.format_map(MapData('@complex', 'scalar', [(('bpftrace', 2), 5)])) == \
        '{"type": "map", "data": {"@complex": {"bpftrace,2": 5}}}\n'
    # keys lose their spaces in JSON (not in text)
    assert json.format_map(MapData('@c', 'count', [(('a b',), 1)])) == \
        '{"type": "map", "data": {"@c": {"ab": 1}}}\n'
    assert json.format_map(MapData('@t', 'sum', [((1, 'a'), 5)])) == \
        '{"type": "map", "data": {"@t": {"1,a": 5}}}\n'
    assert json.format_map(MapData('@mk', 'sum', [((1, 'x'), 5), ((2, 'y'), -3)])) == \
        '{"type": "map", "data": {"@mk": {"2,y": -3, "1,x": 5}}}\n'
    assert json.format_map(MapData('@c', 'count', [(('b',), 1), (('c',), 3), (('a',), 2)]), 2, 2) == \
        '{"type": "map", "data": {"@c": {"a": 1, "c": 1}}}\n'


def test_stats_and_avg():
    assert json.format_map(MapData('@stats', 'stats', [(None, Stats(2, 12))])) == \
        '{"type": "stats", "data": {"@stats": {"count": 2, "average": 6, "total": 12}}}\n'
    m = MapData('@stats', 'stats', [(('zsh',), Stats(1, 10)), (('curl',), Stats(1, 2))])
    assert json.format_map(m) == (
        '{"type": "stats", "data": {"@stats": {"curl": {"count": 1, "average": 2, "total": 2}, '
        '"zsh": {"count": 1, "average": 10, "total": 10}}}}\n')
    assert json.format_map(MapData('@a', 'avg', [(None, Avg(7, 2))])) == \
        '{"type": "stats", "data": {"@a": 3}}\n'
    assert json.format_map(MapData('@st', 'stats', [(None, Stats(2, -5))])) == \
        '{"type": "stats", "data": {"@st": {"count": 2, "average": -2, "total": -5}}}\n'
    avg = MapData('@', 'avg', [((c,), Avg(v, 1)) for c, v in zip('abcd', (10, 20, 30, 40))])
    assert json.format_map(avg, 2, 10) == '{"type": "stats", "data": {"@": {"c": 3, "d": 4}}}\n'
    assert json.format_map(avg, 10, 10) == \
        '{"type": "stats", "data": {"@": {"a": 1, "b": 2, "c": 3, "d": 4}}}\n'


def test_hist():
    m = MapData('@hist', 'hist', [(None, H([2, 1025]))])
    buckets = [b(2, 3, 1)] + [b(1 << i, (2 << i) - 1, 0) for i in range(2, 10)] + [b(1024, 2047, 1)]
    assert json.format_map(m) == '{"type": "hist", "data": {"@hist": [' + ','.join(buckets) + ']}}\n'
    assert json.format_map(MapData('@', 'hist', [(None, H([10 << 30]))])) == \
        '{"type": "hist", "data": {"@": [{"min": 8589934592, "max": 17179869183, "count": 1}]}}\n'


def test_hist_negative_bucket_and_keys():
    m = MapData('@', 'hist', [(('curl',), H([-1, 0, 511, 1024, 1025])), (('bpftrace',), H([2]))])
    curl = ['{"max": -1, "count": 1}', b(0, 0, 1), b(1, 1, 0)] + \
        [b(1 << i, (2 << i) - 1, 1 if i == 8 else 0) for i in range(1, 10)] + [b(1024, 2047, 2)]
    assert json.format_map(m) == (
        '{"type": "hist", "data": {"@": {"bpftrace": [' + b(2, 3, 1) + '], "curl": ['
        + ','.join(curl) + ']}}}\n')
    multi = MapData('@', 'hist', [(('bpftrace', 2), H([2])), (('curl', 3), H([511, 1024]))])
    assert json.format_map(multi) == (
        '{"type": "hist", "data": {"@": {"bpftrace,2": [' + b(2, 3, 1) + '], "curl,3": ['
        + ','.join([b(256, 511, 1), b(512, 1023, 0), b(1024, 2047, 1)]) + ']}}}\n')


def test_hist_top():
    m = MapData('@', 'hist', [((1,), H([10])), ((2,), H([20])), ((3,), H([30]))])
    assert json.format_map(m, 2) == \
        '{"type": "hist", "data": {"@": {"2": [' + b(16, 31, 1) + '], "3": [' + b(16, 31, 1) + ']}}}\n'
    assert json.format_map(m, 10) == (
        '{"type": "hist", "data": {"@": {"1": [' + b(8, 15, 1) + '], "2": [' + b(16, 31, 1)
        + '], "3": [' + b(16, 31, 1) + ']}}}\n')


def test_hist_fine_grained():
    m = MapData('@', 'hist', [(None, H(range(1024), 3))])
    out = json.format_map(m)
    data = stdjson.loads(out)["data"]["@"]
    assert data[:2] == [{"min": 0, "max": 0, "count": 1}, {"min": 1, "max": 1, "count": 1}]
    assert data[16] == {"min": 16, "max": 17, "count": 2}
    assert data[-1] == {"min": 960, "max": 1023, "count": 64}
    assert len(data) == 64 and out.startswith('{"type": "hist", "data": {"@": [{"min": 0, "max": 0, "count": 1},{')


def test_lhist():
    m = MapData('@h', 'lhist', [(None, L([2, 50, 1000], 0, 100, 10))])
    buckets = [b(i, i + 9, 1 if i in (0, 50) else 0) for i in range(0, 100, 10)] + ['{"min": 100, "count": 1}']
    assert json.format_map(m) == '{"type": "hist", "data": {"@h": [' + ','.join(buckets) + ']}}\n'
    low = MapData('@l', 'lhist', [(None, L([-1, 3], 0, 10, 2))])
    assert json.format_map(low) == \
        '{"type": "hist", "data": {"@l": [{"max": -1, "count": 1},' + b(0, 1, 0) + ',' + b(2, 3, 1) + ']}}\n'


def test_hist_zeroed_and_empty():
    assert json.format_map(MapData('@hist', 'hist', [(None, Hist({3: 0}))])) == \
        '{"type": "hist", "data": {"@hist": []}}\n'
    assert json.format_map(MapData('@h', 'lhist', [(None, LHist(0, 100, 10, {1: 0}))])) == \
        '{"type": "hist", "data": {"@h": []}}\n'
    assert json.format_map(MapData('@h', 'hist', [])) == ''


def test_empty_maps():
    assert json.format_map(MapData('@c', 'count', [])) == ''
    assert json.format_map(MapData('@', 'scalar', [], scalar=True)) == '{"type": "map", "data": {"@": 0}}\n'
    assert json.format_map(MapData('@', 'stats', [], scalar=True)) == \
        '{"type": "stats", "data": {"@": {"count": 0, "average": 0, "total": 0}}}\n'
    assert json.format_map(MapData('@', 'count', [], scalar=True), at_exit=True) == ''
    # avg/stats maps are wrapped in Stats, which the emptiness check misses
    assert json.format_map(MapData('@a', 'avg', [], scalar=True), at_exit=True) == \
        '{"type": "stats", "data": {"@a": {}}}\n'
    assert json.format_map(MapData('@a', 'avg', [])) == '{"type": "stats", "data": {"@a": {}}}\n'


def test_brief_program_at_exit():
    maps = [
        MapData('@t', 'sum', [((1, 'a'), 5)]),
        MapData('@h', 'hist', [(None, H([5, 100]))]),
        MapData('@l', 'lhist', [(None, L([3], 0, 10, 2))]),
        MapData('@s', 'stats', [(None, Stats(2, 30))]),
        MapData('@a', 'avg', [(None, Avg(7, 2))]),
        MapData('@c', 'count', [(('x',), 1)]),
    ]
    assert json.format_exit(maps) == (
        '{"type": "stats", "data": {"@a": 3}}\n'
        '{"type": "map", "data": {"@c": {"x": 1}}}\n'
        '{"type": "hist", "data": {"@h": [' + ','.join(
            [b(4, 7, 1), b(8, 15, 0), b(16, 31, 0), b(32, 63, 0), b(64, 127, 1)]) + ']}}\n'
        '{"type": "hist", "data": {"@l": [' + b(2, 3, 1) + ']}}\n'
        '{"type": "stats", "data": {"@s": {"count": 2, "average": 15, "total": 30}}}\n'
        '{"type": "map", "data": {"@t": {"1,a": 5}}}\n')


def test_values_and_events():
    assert json.format_value(5) == '{"type": "value", "data": 5}\n'
    assert json.format_value("bpftrace") == '{"type": "value", "data": "bpftrace"}\n'
    assert json.format_value((1, 2, "string")) == '{"type": "value", "data": [1,2,"string"]}\n'
    assert json.format_value(Record((('m', 2), ('n', 3)))) == '{"type": "value", "data": {"m": 2, "n": 3}}\n'
    assert json.format_value((True, False)) == '{"type": "value", "data": [true,false]}\n'
    assert json.format_value(Record((('i', 5), ('f', None)))) == '{"type": "value", "data": {"i": 5, "f": null}}\n'
    assert json.format_value(Symbolic("FOO", 333, enum=True)) == '{"type": "value", "data": 333}\n'
    assert json.format_printf_event("test 5") == '{"type": "printf", "data": "test 5"}\n'
    assert json.format_printf_event('test \r \n \t \\ " bar') == \
        '{"type": "printf", "data": "test \\r \\n \\t \\\\ \\" bar"}\n'
    assert json.syscall_event("a b c\n") == '{"type": "syscall", "data": "a b c\\n"}\n'
    assert json.join_event("/bin/echo,'A'") == '{"type": "join", "data": "/bin/echo,\'A\'"}\n'
    assert json.attached_probes(1) == '{"type": "attached_probes", "count": 1, "data": {"probes": 1}}\n'
    assert json.lost_events(12) == '{"type": "lost_events", "count": 12, "data": {"events": 12}}\n'


def test_number_encoding():
    assert json.emit(2**53) == '9007199254740992'
    assert json.emit(2**53 + 1) == '"9007199254740993"'
    assert json.emit(2**63 - 1) == '"9223372036854775807"'
    assert json.emit(-2**63) == '-9223372036854775808'
    assert json.emit(2**64 - 1) == '"18446744073709551615"'
    assert json.emit(b'h\xff') == '[104,-1]'


def test_control_and_high_bytes_and_sticky_hex():
    assert json.escape_string("a\x01b") == '"a\\u0001b"'
    assert json.escape_string("\x08\x7f") == '"\\u0008\x7f"'
    assert json.escape_string("é") == '"\\uffffffc3\\uffffffa9"'
    # std::hex stays set on the stream: later bucket counts come out in hex
    m = MapData('@h', 'hist', [(None, Hist({2: 26}))])
    assert json.format_map(m) == '{"type": "hist", "data": {"@h": [{"min": 1, "max": 1, "count": 1a}]}}\n'
    assert json.lost_events(26) == '{"type": "lost_events", "count": 1a, "data": {"events": 1a}}\n'
    json.reset_stream_state()
    assert json.lost_events(26) == '{"type": "lost_events", "count": 26, "data": {"events": 26}}\n'


def test_a_float_in_a_scripts_union_is_none_printed_as_null():
    from pytrace.lang import types as T
    from pytrace.lang.ctypes_parse import parse_definitions
    from pytrace.runtime.maps import decode

    defs, problems = parse_definitions(["union N { int i; float f; };", "struct Foo { int m; union N n; double d; };"])
    assert problems == []
    foo = defs.lookup("struct Foo")
    assert (foo.size, [f.offset for f in foo.all_fields()]) == (16, [0, 4, 8])
    assert foo.field("d").type == T.OpaqueType(8, 8)
    data = (2).to_bytes(4, "little") + (5).to_bytes(4, "little") + bytes(8)
    value = decode(foo.layout(), data)
    assert json.format_value(value) == '{"type": "value", "data": {"m": 2, "n": {"i": 5, "f": null}, "d": null}}\n'
