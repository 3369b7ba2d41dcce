"""`--test` and `--bench`: running the test:NAME and bench:NAME probes.

Like bpftrace, after BEGIN and instead of attaching any event probe, each
test probe runs once with BPF_PROG_TEST_RUN, its output captured, and
passes when it neither returned nor exit()ed with a non-zero code; each
bench probe runs repeatedly, its output discarded, until the runs add up
to a millisecond, and reports the average time of one run.

Raw-tracepoint programs (what these are here) cannot be repeated by the
kernel and report no duration, so the runs are timed from user space: a
run's time includes its BPF_PROG_TEST_RUN call."""

from __future__ import annotations

import io
import time

from pytrace.runtime import bpf
from pytrace.runtime.output import text as text_format
from pytrace.runtime.output.writer import Writer

MIN_TOTAL_NS = 1_000_000  # a benchmark runs at least this long in total
# (total time so far below, factor for the next try): bpftrace's steps
BENCH_STEPS = ((1_000, 1000), (10_000, 100), (100_000, 10), (MIN_TOTAL_NS, 2))


def _capture() -> Writer:
    return Writer(text_format, io.StringIO(), io.StringIO())


def _names(programs) -> list[str]:
    return [p.spec.attach[0]["name"] for p in programs]


def _timed_runs(fd: int, n: int) -> tuple[int, int]:
    """Run a program n times; returns (nanoseconds taken, last return value)."""
    retval = 0
    start = time.perf_counter_ns()
    for _ in range(n):
        retval = bpf.prog_test_run(fd)
    return time.perf_counter_ns() - start, retval


def run_tests(tracer, out) -> int:
    """Every test probe once, in order; 1 when any failed, else 0."""
    programs = tracer.programs("TEST")
    names, passed = _names(programs), []
    for index, prog in enumerate(programs):
        capture = _capture()
        tracer.out = capture
        try:
            duration, retval = _timed_runs(prog.fd, 1)
            tracer.poll(0)
        finally:
            tracer.out = out
        passed.append(retval == 0 and tracer.exit_code == 0)
        tracer.exited, tracer.exit_code = False, 0  # each test starts afresh
        out.test_result(names, index, duration, passed, capture.out.getvalue())
    return 0 if all(passed) else 1


def run_benchmarks(tracer, out) -> int:
    """Every bench probe, repeated until it ran long enough; 1 when one failed."""
    programs = tracer.programs("BENCH")
    names = _names(programs)
    for index, prog in enumerate(programs):
        iters = 1
        while True:
            tracer.out = _capture()  # a benchmark's output is discarded
            try:
                total, retval = _timed_runs(prog.fd, iters)
                tracer.poll(0)
            finally:
                tracer.out = out
            if tracer.exit_code == 0 and retval != 0:  # returning 1 skips a benchmark
                break
            factor = next((f for limit, f in BENCH_STEPS if total < limit), 0)
            if factor:
                iters *= factor
                continue
            if tracer.exit_code != 0:
                out.warning(f"ERROR: Benchmark '{names[index]}' failed.\n")
                tracer.exited, tracer.exit_code = False, 0
                return 1
            out.benchmark_result(names, index, total // iters, iters)
            break
    return 0


MODES = {"test": run_tests, "bench": run_benchmarks}
