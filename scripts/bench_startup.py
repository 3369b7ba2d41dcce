#!/usr/bin/env python3
"""Start-up benchmark: time from exec to "probes attached" for the README's
one-liner, pytrace (cold: compiles; warm: cached artifact) beside bpftrace.

    sudo python3 scripts/bench_startup.py [--runs N]

Each run starts the tracer, waits for its attach message, then stops it
with SIGINT; the median of N runs is printed per tool. bpftrace 0.17 prints
"Attaching N probes..." before it attaches and pytrace "Attached N probes"
after, so the comparison favours bpftrace."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAM = "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"


def time_to_attach(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    streams = [proc.stderr, proc.stdout]
    import selectors

    sel = selectors.DefaultSelector()
    for s in streams:
        sel.register(s, selectors.EVENT_READ)
    elapsed = None
    while elapsed is None:
        for key, _ in sel.select(timeout=30):
            line = key.fileobj.readline()
            if line.startswith(("Attach", '{"type": "attached')):
                elapsed = time.perf_counter() - start
            elif not line and proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited early: {proc.stderr.read()}")
    time.sleep(0.3)  # bpftrace 0.17 prints its message before attaching; let it settle
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="pytrace-bench-")
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with .pyc files, as installed Python runs
    pytrace = [sys.executable, "-m", "pytrace", "-e", PROGRAM]
    rows = []

    cold = []
    for _ in range(args.runs):
        shutil.rmtree(os.path.join(cache, "pytrace"), ignore_errors=True)
        cold.append(time_to_attach(pytrace, env))
    rows.append(("pytrace (cold: parse + LLVM)", cold))
    rows.append(("pytrace (warm: cached artifact)", [time_to_attach(pytrace, env) for _ in range(args.runs)]))
    bpftrace = shutil.which("bpftrace")
    if bpftrace:
        version = subprocess.run([bpftrace, "--version"], capture_output=True, text=True).stdout.strip()
        rows.append((version, [time_to_attach([bpftrace, "-e", PROGRAM], env) for _ in range(args.runs)]))
    whole = PROGRAM + " BEGIN { exit(); }"
    full = [("pytrace (warm)", [time_whole_run([sys.executable, "-m", "pytrace", "-e", whole], env)
                                for _ in range(args.runs)])]
    if bpftrace:
        full.append((version, [time_whole_run([bpftrace, "-e", whole], env) for _ in range(args.runs)]))
    shutil.rmtree(cache, ignore_errors=True)
    report(f"time to the attach message for `{PROGRAM}`", rows, args.runs)
    report("whole run that attaches, runs BEGIN { exit(); }, detaches and exits", full, args.runs)
    return 0


def time_whole_run(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, env=env, timeout=60, check=True)
    return time.perf_counter() - start


def report(title: str, rows, runs: int) -> None:
    print(f"{title} (median of {runs}, min-max):")
    for name, times in rows:
        print(f"  {name:34} {statistics.median(times) * 1000:7.0f} ms   "
              f"({min(times) * 1000:.0f}-{max(times) * 1000:.0f})")


if __name__ == "__main__":
    raise SystemExit(main())
