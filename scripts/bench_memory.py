#!/usr/bin/env python3
"""Memory benchmark: does pytrace's memory grow over a long run at a high
event rate? Not a CI test (it takes a minute and the figure is a trend).

    sudo .venv/bin/python scripts/bench_memory.py [--seconds 60] [--warmup 5]

A C producer calls syscall(SYS_getppid) as fast as it can for SECONDS; the
traced program prints a line per call (written to /dev/null), updates a
count and a histogram per call, and prints and clears the counts every
second, so the ring buffer, the printf formatters and the map reads all
run the whole time. pytrace's RSS (/proc/PID/status VmRSS) is sampled every
second; growth is the last sample minus the sample at the end of the warm-up
(the ring buffer and caches are filled by then).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

PRODUCER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    double seconds = atof(argv[1]);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long n = 0;
    for (;;) {
        for (int i = 0; i < 1000; i++, n++)
            syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &t);
        double elapsed = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
        if (elapsed >= seconds) {
            fprintf(stderr, "produced %ld in %.3f s\n", n, elapsed);
            return 0;
        }
    }
}
"""

PROGRAM = """
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
    printf("event %d %d\\n", tid, @calls);
    @calls = count();
    @by_cpu[cpu] = count();
    @lat = hist(nsecs % 1000000);
}
interval:s:1 { print(@by_cpu); clear(@by_cpu); }
"""


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=int, default=5, help="samples before the baseline")
    parser.add_argument("--pytrace", default=os.path.join(os.path.dirname(sys.executable), "pytrace"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        producer = os.path.join(tmp, "producer")
        with open(producer + ".c", "w") as f:
            f.write(PRODUCER)
        subprocess.run(["gcc", "-O2", "-o", producer, producer + ".c"], check=True)
        proc = subprocess.Popen([args.pytrace, "-o", "/dev/null", "-e", PROGRAM,
                                 "-c", f"{producer} {args.seconds}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples: list[tuple[float, int]] = []
        start = time.monotonic()
        while proc.poll() is None:
            kib = rss_kib(proc.pid)
            if kib is not None:
                samples.append((time.monotonic() - start, kib))
                print(f"{samples[-1][0]:6.1f} s  RSS {kib / 1024:7.1f} MiB", flush=True)
            time.sleep(1)
        err = proc.stderr.read()
    lost = sum(int(n) for n in re.findall(r"^Lost (\d+) events", err, re.M))
    produced = re.search(r"produced (\d+) in ([\d.]+) s", err)
    print(f"exit {proc.returncode}; {err.count(chr(10))} stderr lines")
    if produced:
        n, secs = int(produced.group(1)), float(produced.group(2))
        print(f"produced {n} events in {secs:.1f} s ({n / secs / 1e3:.0f}k/s), {lost} reported lost")
    if len(samples) <= args.warmup:
        print("too few samples")
        return 1
    base = samples[args.warmup][1]
    last = samples[-1][1]
    peak = max(kib for _, kib in samples)
    print(f"RSS after warm-up {base / 1024:.1f} MiB, at the end {last / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB: "
          f"growth {(last - base) / 1024:+.1f} MiB over {samples[-1][0] - samples[args.warmup][0]:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
