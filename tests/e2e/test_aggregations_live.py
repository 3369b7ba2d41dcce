"""End-to-end: aggregation maps read in expressions and for loops (their
per-CPU values combined in the program), tseries() in text and JSON with
time controlled through BPFTRACE_DUMMY_TS_MAP, and map updates from perf
event context (interval probes) keeping every key. Exact output."""

import calendar
import json
import os
import time

import pytest

from conftest import py_workload, run_begin, run_pytrace

pytestmark = pytest.mark.kernel

# 3 getppid() calls on CPU 0, then 5 on CPU 1: every aggregation spans two CPUs.
TWO_CPUS = py_workload("import os\n"
                       "os.sched_setaffinity(0, {0})\n"
                       "for _ in range(3): os.getppid()\n"
                       "os.sched_setaffinity(0, {1})\n"
                       "for _ in range(5): os.getppid()\n")

needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0),
                                    reason="needs CPUs 0 and 1")


@needs_two_cpus
def test_reading_aggregations_combines_the_cpus():
    r = run_pytrace("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @c = count(); @s = sum(cpu + 1); "
                    "@mn = min(cpu + 10); @mx = max(cpu + 10); @a = avg(cpu * 10); @k[cpu] = count(); } "
                    'END { printf("count %d sum %d min %d max %d avg %d\\n", @c, @s, @mn, @mx, @a); '
                    'if (@c > 7) { printf("more than 7\\n"); } $x = @s + 1; printf("x %d\\n", $x); '
                    "@copy[@c, @a] = (uint8)@s; "
                    'for ($kv : @k) { printf("cpu %d: %d\\n", $kv.0, $kv.1); } '
                    "clear(@c); clear(@s); clear(@mn); clear(@mx); clear(@a); clear(@k); }", "-c", TWO_CPUS)
    assert r.rc == 0, r
    body, dump = r.out.split("\n\n\n")
    lines = body.splitlines()
    assert lines[:3] == ["count 8 sum 13 min 10 max 11 avg 6", "more than 7", "x 14"], r
    assert sorted(lines[3:]) == ["cpu 0: 3", "cpu 1: 5"], r
    assert dump == "@copy[8, 6]: 13\n", r


def test_reading_aggregations_in_begin():
    r = run_begin("@a = avg(-1); @a = avg(-1); @a = avg(-10); @c = count(); @s = sum(5); @mn = min(1); @mx = max(-1); "
                  "print((@a, @c, @s, @mn, @mx)); if (@a == -4) { printf(\"avg %d\\n\", @a); } "
                  "printf(\"%d %d\\n\", (uint64)@c, (int64)@missing[1]); @missing[2] = count();")
    assert r.out == ("(-4, 1, 5, 1, -1)\navg -4\n1 0\n\n\n"
                     "@a: -4\n@c: 1\n@missing[2]: 1\n@mn: 1\n@mx: -1\n@s: 5\n"), r


def test_for_over_a_count_map_keyed_by_tuples():
    r = run_begin("@map[16, 17] = count(); @map[16, 17] = count(); @map[1, 2] = count(); "
                  "for ($kv : @map) { print($kv); } clear(@map);")
    assert sorted(r.out.split("\n\n\n")[0].splitlines()) == ["((1, 2), 1)", "((16, 17), 2)"], r


def test_reading_a_hist_is_refused_as_bpftrace_does():
    r = run_pytrace("-e", "BEGIN { @h = hist(5); if (@h > 0) { exit(); } }")
    assert r.rc != 0
    assert r.err.startswith("stdin:1:27-33: ERROR: Type mismatch for '>': comparing hist_t with int8\n"), r


def test_interval_probe_keeps_every_new_key():
    """Perf-event programs run in hardirq/NMI context, where a hash map without
    preallocation loses new keys; bpftrace's maps (and ours) are preallocated."""
    r = run_pytrace("-e", "i:ms:1 /@once == 0/ { @once = 1; $i = 0; "
                    "while ($i < 200) { @k[$i] = $i; @c[$i % 50] = count(); $i++; } "
                    'printf("%d %d\\n", len(@k), len(@c)); clear(@k); clear(@c); exit(); }')
    assert r.rc == 0, r
    assert r.out == "200 50\n\n\n@once: 1\n", r


# --- tseries -------------------------------------------------------------------
# The clock is the map @ts (BPFTRACE_DUMMY_TS_MAP, bpftrace's test hook); the
# probe runs once (@once), as an interval probe may fire again before exit().

def run_tseries(body: str, *args: str, start: int = 10**9) -> str:
    r = run_pytrace(*args, "-e", f"BEGIN {{ @ts = (uint64){start}; }} "
                    f"i:ms:1 /@once == 0/ {{ @once = 1; {body} clear(@ts); exit(); }}",
                    env={"BPFTRACE_DUMMY_TS_MAP": "@ts"})
    assert r.rc == 0, r
    assert ("WARNING: Script is using an unstable feature: tseries. To prevent this warning you must explicitly "
            "enable it in the config e.g. unstable_tseries=enable\n") in r.err, r
    return r.out


def tseries_records(out: str) -> list:
    return [r for r in map(json.loads, out.splitlines()) if r["type"] == "tseries"]


# 30 values $i % 7, one every 10 ms from 1 s on: three intervals of 100 ms.
EVERY_10MS = "$i = (uint64)0; while ($i < 30) { @a = tseries((int64)($i % 7), 100ms, 3FUNC); @ts += 10000000; $i++; }"


@pytest.mark.parametrize("func, values", [
    ("", [2, 5, 1]),  # the last value of each interval: $i = 9, 19, 29
    ("min", [0, 0, 0]),
    ("max", [6, 6, 6]),
    ("sum", [24, 33, 28]),
    ("avg", [2, 3, 2]),
])
def test_tseries_text_plot(func, values):
    out = run_tseries(EVERY_10MS.replace("FUNC", f', "{func}"' if func else ""))
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    lines = []
    for n, v in enumerate(values):
        line = [" "] * 53
        line[0] = line[-1] = "|"
        if lo < 0 < hi:
            line[int(53 * -lo / (hi - lo))] = "."
        line[int(52 * (v - lo) / (hi - lo))] = "*"
        lines.append(f"{time.strftime('%H:%M:%S', time.localtime(1))}.{n}00 {''.join(line)} {v}\n")
    assert out == ("\n\n@a:\n"
                   f"             {lo:<21}{hi:>32}\n"
                   "hh:mm:ss.ms  |___________________________________________________|\n"
                   + "".join(lines) +
                   "             v___________________________________________________v\n"
                   f"             {lo:<21}{hi:>32}\n\n"
                   "@once: 1\n"), out


def test_tseries_keyed_json_with_missing_intervals():
    """Epoch 0 marks a slot never written, so the interval starting at 0 reads 0
    (as in bpftrace); intervals without a value are left out of JSON."""
    out = run_tseries('$i = 0; while ($i < 4) { @a["one"] = tseries(5 - $i, 1s, 6); @ts += 1000000000; $i++; } '
                      '@ts += 1000000000; @a["two"] = tseries(-3, 1s, 6); @a["two"] = tseries(-4, 1s, 6);',
                      "-f", "json", start=0)
    records = tseries_records(out)
    starts = [f"1970-01-01 00:00:0{s}.000000000" for s in range(6)]
    assert records[0] == {"type": "tseries", "data": {"@a": {
        "one": [{"interval_start": starts[s], "value": v} for s, v in [(0, 0), (1, 4), (2, 3), (3, 2)]],
        "two": [{"interval_start": starts[5], "value": -4}]}}}, out


def test_tseries_print_and_zero():
    out = run_tseries('@a = tseries(7, 1s, 2, "sum"); @a = tseries(8, 1s, 2, "sum"); @ts += 1000000000; '
                      '@a = tseries(1, 1s, 2, "sum"); print(@a); zero(@a);', "-f", "json")
    records = tseries_records(out)
    assert records[0]["data"]["@a"] == [{"interval_start": "1970-01-01 00:00:01.000000000", "value": 15},
                                        {"interval_start": "1970-01-01 00:00:02.000000000", "value": 1}]
    assert records[1] == {"type": "tseries", "data": {"@a": []}}  # zeroed: every slot back to epoch 0


def test_tseries_on_the_real_clock():
    """Without the test clock intervals are TAI wall-clock time: the one
    interval written starts within a second of now."""
    tai_offset = time.clock_gettime(time.CLOCK_TAI) - time.time()
    before = time.time()
    r = run_pytrace("-f", "json", "-e", "BEGIN { @a = tseries(42, 1ms, 4); exit(); }")
    assert r.rc == 0, r
    points = json.loads(r.out.splitlines()[-1])["data"]["@a"]
    assert [p["value"] for p in points] == [42], r
    start = calendar.timegm(time.strptime(points[0]["interval_start"][:19], "%Y-%m-%d %H:%M:%S")) - tai_offset
    assert before - 2 < start < time.time() + 1, points
