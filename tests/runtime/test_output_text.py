"""Text output, checked against current bpftrace.

Expected strings come from bpftrace's own test files (tests/runtime/outputs,
tests/runtime/call, tests/output.cpp) where they exist, otherwise from runs of
Debian's bpftrace 0.17 on this machine adjusted for what current bpftrace's
source (src/output/text.cpp, src/types_format.cpp) does differently.
"""

from collections import Counter

import pytest

from pytrace.runtime.output import text
from pytrace.runtime.output.values import (
    Avg, Hist, LHist, MapData, Record, Stats, Symbolic, hist_index,
    hist_index_label, lhist_index, std_sort)

FULL = 52


def H(values, k=0):
    """A hist() map value as the kernel would have filled it."""
    return Hist(dict(Counter(hist_index(v, k) for v in values)), k)


def L(values, lo, hi, step):
    return LHist(lo, hi, step, dict(Counter(lhist_index(v, lo, hi, step) for v in values)))


def row(header, count, bar):
    return f"{header:<16}{count:>8} |{'@' * bar:<52}|\n"


def rows(spec):
    return ''.join(row(*r) for r in spec)


# --- bucket index reference ---------------------------------------------------

@pytest.mark.parametrize("value,k,index", [
    (-5, 0, 0), (-1, 0, 0), (0, 0, 1), (1, 0, 2), (2, 0, 3), (3, 0, 3),
    (4, 0, 4), (7, 0, 4), (8, 0, 5), (1023, 0, 11), (1024, 0, 12),
    (2**63 - 1, 0, 64), (2**64 - 1, 0, 0),   # u64 >= 2**63 is negative to BPF
    (0, 2, 1), (3, 2, 4), (4, 2, 5), (7, 2, 8), (8, 2, 9), (9, 2, 9),
    (10, 2, 10), (225, 2, 28), (10000, 2, 49),
    (31, 5, 32), (32, 5, 33), (63, 5, 64), (64, 5, 65), (2**63 - 1, 5, 1888),
])
def test_hist_index(value, k, index):
    assert hist_index(value, k) == index


@pytest.mark.parametrize("value,args,index", [
    (-1, (0, 10, 2), 0), (0, (0, 10, 2), 1), (1, (0, 10, 2), 1), (2, (0, 10, 2), 2),
    (9, (0, 10, 2), 5), (10, (0, 10, 2), 6), (11, (0, 10, 2), 6), (10**9, (0, 10, 2), 6),
    (99, (0, 100, 10), 10), (100, (0, 100, 10), 11), (9, (10, 110, 10), 0),
    (10, (0, 10, 3), 4), (9, (0, 10, 3), 4), (8, (0, 10, 3), 3),
])
def test_lhist_index(value, args, index):
    assert lhist_index(value, *args) == index


def test_hist_index_labels():
    assert hist_index_label(3, 0) == Symbolic("4", 4)
    assert hist_index_label(12, 0) == Symbolic("2K", 2048)
    assert hist_index_label(27, 2) == Symbolic("224", 224)
    assert hist_index_label(36, 2) == Symbolic("1024", 1024)   # no K below 2**10 power
    assert hist_index_label(34, 0) == Symbolic("8G", 8 << 30)
    assert hist_index_label(64, 0).symbol == "8E"


# --- histograms -----------------------------------------------------------------

def test_hist_upstream_hist_txt():
    m = MapData('@', 'hist', [(None, H([-1, 2, 3, 7, 20]))])
    assert text.format_map(m) == (
        "@:\n"
        "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[0]                    0 |                                                    |\n"
        "[1]                    0 |                                                    |\n"
        "[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[8, 16)                0 |                                                    |\n"
        "[16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "\n")


def test_hist_upstream_two_values_gap():
    m = MapData('@', 'hist', [(None, H([3, 20]))])
    assert text.format_map(m) == "@:\n" + rows([
        ("[2, 4)", 1, FULL), ("[4, 8)", 0, 0), ("[8, 16)", 0, 0), ("[16, 32)", 1, FULL),
    ]) + "\n"


def test_hist_negative_zero_and_large_values():
    m = MapData('@h', 'hist', [(None, H([-5, 0, 1, 1, 3, 100, 5000, 3000000, 5000000000]))])
    labels = ["4", "8", "16", "32", "64", "128", "256", "512", "1K", "2K", "4K",
              "8K", "16K", "32K", "64K", "128K", "256K", "512K", "1M", "2M", "4M",
              "8M", "16M", "32M", "64M", "128M", "256M", "512M", "1G", "2G", "4G", "8G"]
    counted = {"[64, 128)", "[4K, 8K)", "[2M, 4M)", "[4G, 8G)"}
    spec = [("(..., 0)", 1, 26), ("[0]", 1, 26), ("[1]", 2, FULL), ("[2, 4)", 1, 26)]
    for lo, hi in zip(labels, labels[1:]):
        h = f"[{lo}, {hi})"
        spec.append((h, 1, 26) if h in counted else (h, 0, 0))
    assert text.format_map(m) == "@h:\n" + rows(spec) + "\n"


def test_hist_k2():
    m = MapData('@k', 'hist', [(None, H([0, 5, 9, 225, 10000], 2))])
    bounds = [10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
              160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280,
              1536, 1792, 2048, 2560, 3072, 3584, "4K", "5K", "6K", "7K", "8K", "10K"]
    spec = [(f"[{i}]", 1 if i in (0, 5) else 0, FULL if i in (0, 5) else 0) for i in range(8)]
    spec.append(("[8, 10)", 1, FULL))
    for lo, hi in zip(bounds, bounds[1:]):
        c = 1 if (lo, hi) in ((224, 256), ("8K", "10K")) else 0
        spec.append((f"[{lo}, {hi})", c, FULL * c))
    assert text.format_map(m) == "@k:\n" + rows(spec) + "\n"


def test_hist_bar_widths_and_div():
    m = MapData('@', 'hist', [(None, Hist({2: 3, 3: 7, 4: 10}))])
    assert text.format_map(m) == "@:\n" + rows([
        ("[1]", 3, 15), ("[2, 4)", 7, 36), ("[4, 8)", 10, FULL)]) + "\n"
    # print(@, 0, 3): counts divided (floor), bars from the divided counts
    assert text.format_map(m, 0, 3) == "@:\n" + rows([
        ("[1]", 1, 17), ("[2, 4)", 2, 34), ("[4, 8)", 3, FULL)]) + "\n"


def test_lhist_upstream():
    m = MapData('@', 'lhist', [(None, L([2, 3, 7, -1, 11], 0, 10, 2))])
    assert text.format_map(m) == (
        "@:\n"
        "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[0, 2)                 0 |                                                    |\n"
        "[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[4, 6)                 0 |                                                    |\n"
        "[6, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[8, 10)                0 |                                                    |\n"
        "[10, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "\n")


def test_lhist_suffix_rules():   # tests/output.cpp
    no_suffix = LHist(610000, 670000, 10000, {i: 1 for i in range(1, 7)})
    assert text.format_map(MapData('@mymap', 'lhist', [(None, no_suffix)])) == "@mymap:\n" + rows([
        (f"[{lo}, {lo + 10000})", 1, FULL) for lo in range(610000, 670000, 10000)]) + "\n"
    suffix = LHist(0, 5 * 1024, 1024, {i: 1 for i in range(1, 6)})
    assert text.format_map(MapData('@mymap', 'lhist', [(None, suffix)])) == "@mymap:\n" + rows([
        ("[0, 1K)", 1, FULL), ("[1K, 2K)", 1, FULL), ("[2K, 3K)", 1, FULL),
        ("[3K, 4K)", 1, FULL), ("[4K, 5K)", 1, FULL)]) + "\n"
    m = MapData('@lk', 'lhist', [(None, L([3000, 100000], 0, 10240, 1024))])
    assert text.format_map(m) == "@lk:\n" + rows(
        [("[2K, 3K)", 1, FULL)] + [(f"[{i}K, {i + 1}K)", 0, 0) for i in range(3, 10)]
        + [("[10K, ...)", 1, FULL)]) + "\n"


def test_lhist_only_overflow_or_underflow():   # tests/output.cpp
    over = LHist(0, 100, 10, {11: 1})
    assert text.format_map(MapData('@mymap', 'lhist', [(None, over)])) == \
        "@mymap:\n" + row("[100, ...)", 1, FULL) + "\n"
    under = LHist(10, 110, 10, {0: 1})
    assert text.format_map(MapData('@mymap', 'lhist', [(None, under)])) == \
        "@mymap:\n" + row("(..., 10)", 1, FULL) + "\n"


def test_lhist_step_one_single_values():
    m = MapData('@l1', 'lhist', [(None, L([2, 4], 0, 5, 1))])
    assert text.format_map(m) == "@l1:\n" + rows([
        ("[2]", 1, FULL), ("[3]", 0, 0), ("[4]", 1, FULL)]) + "\n"


def test_hist_keyed_sorted_by_total_then_key_bytes():
    m = MapData('@', 'hist', [((3,), H([30])), ((1,), H([10, 10])), ((2,), H([20]))])
    assert text.format_map(m) == (
        "@[2]:\n" + row("[16, 32)", 1, FULL) + "\n"
        "@[3]:\n" + row("[16, 32)", 1, FULL) + "\n"
        "@[1]:\n" + row("[8, 16)", 2, FULL) + "\n")
    assert text.format_map(m, top=1) == "@[1]:\n" + row("[8, 16)", 2, FULL) + "\n"


def test_hist_zeroed_and_empty():
    zeroed = MapData('@h', 'hist', [(None, Hist({3: 0}))])
    assert text.format_map(zeroed) == "@h:\n\n"
    assert text.format_map(MapData('@h', 'hist', [], scalar=True)) == ""
    assert text.format_map(MapData('@h', 'hist', [])) == ""


# --- plain maps -------------------------------------------------------------------

def test_brief_program_at_exit():
    # BEGIN { @h = hist(5); @h = hist(100); @l = lhist(3, 0, 10, 2);
    #   @s = stats(10); @s = stats(20); @a = avg(3); @a = avg(4);
    #   @c["x"] = count(); @t[1, "a"] = sum(5); exit(); }
    maps = [
        MapData('@t', 'sum', [((1, 'a'), 5)]),
        MapData('@h', 'hist', [(None, H([5, 100]))]),
        MapData('@l', 'lhist', [(None, L([3], 0, 10, 2))]),
        MapData('@s', 'stats', [(None, Stats(2, 30))]),
        MapData('@a', 'avg', [(None, Avg(7, 2))]),
        MapData('@c', 'count', [(('x',), 1)]),
    ]
    assert text.format_exit(maps) == (
        "\n\n"
        "@a: 3\n"
        "@c[x]: 1\n"
        "@h:\n" + rows([("[4, 8)", 1, FULL), ("[8, 16)", 0, 0), ("[16, 32)", 0, 0),
                        ("[32, 64)", 0, 0), ("[64, 128)", 1, FULL)]) + "\n"
        "@l:\n" + row("[2, 4)", 1, FULL) + "\n"
        "@s: { .count = 2, .average = 15, .total = 30 }\n"
        "@t[1, a]: 5\n")
    assert text.format_exit(maps, print_maps=False) == "\n\n"


def test_scalar_kinds():
    assert text.format_map(MapData('@sum', 'sum', [(None, 6)])) == "@sum: 6\n"
    assert text.format_map(MapData('@avg', 'avg', [(None, Avg(6, 3))])) == "@avg: 2\n"
    assert text.format_map(MapData('@min', 'min', [(None, 1)])) == "@min: 1\n"
    assert text.format_map(MapData('@stats', 'stats', [(None, Stats(3, 6))])) == \
        "@stats: { .count = 3, .average = 2, .total = 6 }\n"
    assert text.format_map(MapData('@tup', 'scalar', [(None, (1, 'two', -3))])) == \
        "@tup: (1, two, -3)\n"
    assert text.format_map(MapData('@b', 'scalar', [(None, True)])) == "@b: true\n"


def test_avg_and_stats_negative():
    # avg(-7); avg(2): -5 / 2 truncates toward zero
    assert text.format_map(MapData('@a', 'avg', [(None, Avg(-5, 2))])) == "@a: -2\n"
    assert text.format_map(MapData('@st', 'stats', [(None, Stats(2, -5))])) == \
        "@st: { .count = 2, .average = -2, .total = -5 }\n"
    assert Avg(5, 0).average == 0 and Stats(0, 0).average == 0


def test_count_map_sorted_by_value_with_top_and_div():
    m = MapData('@c', 'count', [(('b',), 1), (('c',), 3), (('a',), 2)])
    assert text.format_map(m) == "@c[b]: 1\n@c[a]: 2\n@c[c]: 3\n"
    assert text.format_map(m, 2) == "@c[a]: 2\n@c[c]: 3\n"
    assert text.format_map(m, 2, 2) == "@c[a]: 1\n@c[c]: 1\n"
    assert text.format_map(m, 10) == "@c[b]: 1\n@c[a]: 2\n@c[c]: 3\n"


def test_avg_map_top_div_upstream():   # print_avg_map_args.txt
    m = MapData('@', 'avg', [((c,), Avg(v, 1)) for c, v in zip('abcd', (10, 20, 30, 40))])
    assert text.format_map(m, 2, 10) == "@[c]: 3\n@[d]: 4\n"
    assert text.format_map(m, 10, 10) == "@[a]: 1\n@[b]: 2\n@[c]: 3\n@[d]: 4\n"


def test_multi_key_and_signed_sum():
    m = MapData('@mk', 'sum', [((1, 'x'), 5), ((2, 'y'), -3)])
    assert text.format_map(m) == "@mk[2, y]: -3\n@mk[1, x]: 5\n"


def test_min_max_sort_as_unsigned():
    m = MapData('@mx', 'max', [((1,), -3), ((2,), 7)])
    assert text.format_map(m) == "@mx[2]: 7\n@mx[1]: -3\n"


def test_ties_keep_libstdcxx_sort_order():
    # <= 16 entries: std::sort is an insertion sort, i.e. stable
    m = MapData('@', 'count', [((k,), 1) for k in 'zyx'])
    assert text.format_map(m) == "@[z]: 1\n@[y]: 1\n@[x]: 1\n"
    # larger maps: introsort; permutation taken from g++ 12 std::ranges::sort
    keys = [i % 3 for i in range(20)]
    assert std_sort(list(range(20)), key=lambda i: keys[i]) == [
        18, 3, 15, 6, 12, 9, 0, 10, 19, 16, 13, 7, 4, 1, 11, 8, 14, 5, 17, 2]


def test_string_values_sorted_by_key():
    m = MapData('@s', 'scalar', [(('b',), 'x'), (('a',), 'y'), (('ab',), 'z')])
    assert text.format_map(m) == "@s[a]: y\n@s[ab]: z\n@s[b]: x\n"
    t = MapData('@t', 'scalar', [((2, 'a'), 'p'), ((-1, 'b'), 'q'), ((2, 'A'), 'r')])
    assert text.format_map(t) == "@t[-1, b]: q\n@t[2, A]: r\n@t[2, a]: p\n"


def test_keys_and_values():
    assert text.format_key((1,)) == "1"
    assert text.format_key(("a b",)) == "a b"
    assert text.format_key((1, "a")) == "1, a"
    assert text.format_key(((1, 2),)) == "1, 2"
    assert text.format_key((1, (2, "x"))) == "1, (2, x)"
    assert text.format_key(("(x)",)) == "x"    # bpftrace strips any (...) text
    assert text.format_value(5) == "5\n"
    assert text.format_value("str") == "str\n"
    assert text.format_value((1, 2, "string")) == "(1, 2, string)\n"
    assert text.format_value([[5, 6], [7, 8]]) == "[[5,6],[7,8]]\n"
    assert text.format_value(Record((('m', 2), ('n', 3)))) == "{ .m = 2, .n = 3 }\n"
    assert text.format_value((True, False)) == "(true, false)\n"
    assert text.format_value(Symbolic("0x1000", 4096)) == "0x1000\n"
    assert text.format_value(b"ab\x01") == "ab\\x01\n"
    assert text.format_primitive((1, "abc")) == "(1, abc)"


def test_print_empty_maps():
    # print() of an empty scalar map prints its zero value (call tests)
    assert text.format_map(MapData('@', 'scalar', [], scalar=True)) == "@: 0\n"
    assert text.format_map(MapData('@', 'stats', [], scalar=True)) == \
        "@: { .count = 0, .average = 0, .total = 0 }\n"
    assert text.format_map(MapData('@', 'avg', [], scalar=True)) == "@: 0\n"
    rec = Record((('a', 0), ('b', (0, ''))))
    assert text.format_map(MapData('@', 'scalar', [], scalar=True, zero=rec)) == \
        "@: { .a = 0, .b = (0, ) }\n"
    # ... but nothing at exit, and keyed maps print nothing either way
    assert text.format_map(MapData('@', 'count', [], scalar=True), at_exit=True) == ""
    assert text.format_map(MapData('@', 'stats', [], scalar=True), at_exit=True) == ""
    assert text.format_map(MapData('@c', 'count', [])) == ""


def test_exit_orders_maps_by_name():
    maps = [MapData('@b', 'scalar', [(None, 2)]), MapData('@', 'scalar', [(None, 0)]),
            MapData('@a', 'scalar', [(None, 1)]), MapData('@B', 'scalar', [(None, 3)])]
    assert text.format_exit(maps) == "\n\n@: 0\n@B: 3\n@a: 1\n@b: 2\n"


def test_events():
    assert text.ATTACH_STREAM == 'stderr'
    assert text.LOST_EVENTS_STREAM == 'stderr'
    assert text.attached_probes(1) == "Attached 1 probe\n"
    assert text.attached_probes(3) == "Attached 3 probes\n"
    assert text.lost_events(7) == "Lost 7 events\n"
    assert text.total_lost_events(7) == "WARNING: Total lost event count: 7\n"
    assert text.format_printf_event("hi\n") == "hi\n"
    assert text.join_event("a,b") == "a,b\n"
    assert text.end() == "\n\n"
