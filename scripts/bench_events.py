#!/usr/bin/env python3
"""Event benchmark: what tracing adds per event, and printf delivery at paced
rates, pytrace beside bpftrace (and bcc when installed) in one run.

    sudo .venv/bin/python scripts/bench_events.py [--pairs 5] [--calls 1000000] [--seconds 3]

Per-event cost: a C loop of syscall(SYS_getppid) pinned to one CPU measures
its own thread CPU time per call; a tool's added cost is traced minus
untraced (the mean of the untraced loops just before and after), the median
of N rounds in which the tools take turns, on CPU 1 and on CPU 0.

printf delivery: a C producer calls syscall(SYS_getpgid, 10^9 + i) paced at a
given rate (a busy-wait on CLOCK_MONOTONIC) for some seconds; the program
prints `e <i>` per call. Delivered is the number of correct lines (each i
once, in order), lost what the tool reported lost; the producer's achieved
rate shows a tool that slows it down instead of dropping events.

Speed targets live here, not in timed tests (the machine's load varies).
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from pytrace.scripts.bcc_headers import kernel_source

C_SOURCE = r"""
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static long long ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "loop")) {       /* loop CPU CALLS: ns per getppid */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(argv[2]), &set);
        sched_setaffinity(0, sizeof set, &set);
        long calls = atol(argv[3]);
        long long t0 = ns(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < calls; i++)
            syscall(SYS_getppid);
        printf("%.1f\n", (double)(ns(CLOCK_THREAD_CPUTIME_ID) - t0) / calls);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "paced")) {      /* paced RATE SECONDS */
        long rate = atol(argv[2]);
        long n = (long)(rate * atof(argv[3]));
        long long t0 = ns(CLOCK_MONOTONIC);
        for (long i = 0; i < n; i++) {
            long long due = t0 + (long long)(i * 1e9 / rate);
            while (ns(CLOCK_MONOTONIC) < due)
                ;
            syscall(SYS_getpgid, 1000000000L + i);
        }
        fprintf(stderr, "produced %ld in %.3f s\n", n, (ns(CLOCK_MONOTONIC) - t0) / 1e9);
        return 0;
    }
    fprintf(stderr, "usage: loop CPU CALLS | paced RATE SECONDS\n");
    return 2;
}
"""

SCENARIOS = {  # name: (pytrace/bpftrace program, bcc C program)
    "@ = count()": (
        "tracepoint:syscalls:sys_enter_getppid { @ = count(); }",
        "BPF_PERCPU_ARRAY(c, u64, 1);\n"
        "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { int k = 0; u64 *v = c.lookup(&k); if (v) (*v)++; return 0; }"),
    "@[comm] = count()": (
        "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }",
        "struct key_t { char comm[16]; };\nBPF_PERCPU_HASH(c, struct key_t, u64, 4096);\n"
        "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { struct key_t k = {}; "
        "bpf_get_current_comm(&k.comm, sizeof k.comm); c.increment(k); return 0; }"),
    "@[pid] = hist(tid)": (
        "tracepoint:syscalls:sys_enter_getppid { @[pid] = hist(tid); }",
        "struct key_t { u32 pid; u64 slot; };\nBPF_HISTOGRAM(h, struct key_t, 4096);\n"
        "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { u64 id = bpf_get_current_pid_tgid(); "
        "struct key_t k = {.pid = id >> 32, .slot = bpf_log2l((u32)id)}; h.increment(k); return 0; }"),
}

PRINTF = 'tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { printf("e %d\\n", args.pid - 1000000000); }'
BPFTRACE_PRINTF = 'tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { printf("e %d\\n", args->pid - 1000000000); }'

BCC_RUNNER = r"""
import sys, time
sys.path.append("/usr/lib/python3/dist-packages")
from bcc import BPF
b = BPF(text=sys.argv[1])
print("Attached", flush=True)
try:
    time.sleep(3600)
except KeyboardInterrupt:
    pass
"""


# The floor: a hand-assembled tracepoint program doing what `@ = count()` needs
# (a per-CPU array's element 0, incremented), loaded and attached by pytrace's
# thin kernel layer, so no tool can do less per event.
FLOOR_RUNNER = r"""
import struct, sys, time
from pytrace.runtime import bpf, perf
from pytrace.runtime import kernel_consts as K

def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)

counts = bpf.map_create(K.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, name="floor")
prog = b"".join([
    insn(0x62, 10, off=-4, imm=0),                      # *(u32 *)(r10 - 4) = 0
    insn(0xbf, 2, 10), insn(0x07, 2, imm=-4),           # r2 = r10 - 4
    insn(0x18, 1, K.BPF_PSEUDO_MAP_FD, imm=counts), insn(0),  # r1 = map
    insn(0x85, imm=1),                                  # r0 = bpf_map_lookup_elem(r1, r2)
    insn(0x15, 0, off=3, imm=0),                        # if r0 == 0 goto out
    insn(0x79, 1, 0), insn(0x07, 1, imm=1), insn(0x7b, 0, 1),  # (*r0)++
    insn(0xb7, 0, imm=0), insn(0x95),                   # out: return 0
])
fd = bpf.prog_load(K.BPF_PROG_TYPE_TRACEPOINT, prog, name="floor")
event = perf.open_tracepoint(perf.tracepoint_id("syscalls", "sys_enter_getppid"))
perf.attach_bpf(event, fd)
print("Attached", flush=True)
try:
    time.sleep(3600)
except KeyboardInterrupt:
    pass
"""


class Tool:
    def __init__(self, name: str, argv, ready: str) -> None:
        self.name, self.argv, self.ready = name, argv, ready

    def start(self, program: str) -> subprocess.Popen:
        """Start tracing and return once probes are attached."""
        proc = subprocess.Popen(self.argv(program), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                line = key.fileobj.readline()
                if line.startswith(self.ready):
                    sel.close()
                    time.sleep(0.3)  # bpftrace 0.17 says "Attaching" before it attaches
                    return proc
                if not line and proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {proc.stderr.read()}")
        raise RuntimeError(f"{self.name} did not attach")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def loop_ns(binary: str, cpu: int, calls: int) -> float:
    return float(subprocess.run([binary, "loop", str(cpu), str(calls)], capture_output=True, text=True,
                                check=True).stdout)


def per_event(tools: list[Tool], binary: str, pairs: int, calls: int) -> list[tuple]:
    """Added ns per call for each scenario and tool. The tools take turns, pair by pair, so a
    drift of the shared machine's speed falls on all of them alike, and each traced loop is
    compared with the mean of the untraced loops just before and just after it."""
    rows = []
    for scenario, (program, bcc_program) in SCENARIOS.items():
        runners = [t for t in tools if t.name != "floor" or scenario == "@ = count()"]
        added = {(t.name, cpu): [] for t in runners for cpu in (1, 0)}
        for cpu in (1, 0):
            for _ in range(pairs):
                for tool in runners:
                    before = loop_ns(binary, cpu, calls)
                    proc = tool.start(bcc_program if tool.name == "bcc" else program)
                    try:
                        traced = loop_ns(binary, cpu, calls)
                    finally:
                        stop(proc)
                    after = loop_ns(binary, cpu, calls)
                    added[tool.name, cpu].append(traced - (before + after) / 2)
        for tool in runners:
            rows.append((scenario, tool.name, statistics.median(added[tool.name, 1]),
                         statistics.median(added[tool.name, 0])))
    return rows


def delivery(tool: Tool, binary: str, rate: int, seconds: float) -> tuple[int, int, float]:
    """(correct lines, reported lost, producer's achieved rate)."""
    program = BPFTRACE_PRINTF if tool.name.startswith("bpftrace") else PRINTF
    argv = tool.argv(program) + ["-c", f"{binary} paced {rate} {seconds}"]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, text=True, timeout=seconds * 20 + 60)
        out.seek(0)
        expected, correct = 0, 0
        for line in out:
            if line == f"e {expected}\n":
                correct += 1
                expected += 1
            elif line.startswith("e "):
                expected = int(line[2:]) + 1  # a gap: events lost before this one
    lost = sum(int(n) for n in re.findall(r"Lost (\d+) events", proc.stderr))
    m = re.search(r"produced (\d+) in ([\d.]+) s", proc.stderr)
    achieved = int(m.group(1)) / float(m.group(2)) if m else 0.0
    return correct, lost, achieved


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rates", default="100000,200000,400000,800000")
    ap.add_argument("--skip", default="", help="comma-separated: per-event, printf")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pytrace-bench-")
    binary = os.path.join(work, "workload")
    subprocess.run(["cc", "-O2", "-o", binary, "-x", "c", "-"], input=C_SOURCE, text=True, check=True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pytrace = Tool("pytrace", lambda p: [sys.executable, "-m", "pytrace", "-e", p], "Attached")
    tools = [pytrace]
    if shutil.which("bpftrace"):
        tools.append(Tool("bpftrace", lambda p: ["bpftrace", "-e", p], "Attaching"))
    bcc = Tool("bcc", lambda p: ["/usr/bin/python3", "-c", BCC_RUNNER, p], "Attached")
    if os.path.exists("/usr/lib/python3/dist-packages/bcc/__init__.py"):
        headers = kernel_source()
        if headers:
            os.environ["BCC_KERNEL_SOURCE"] = headers  # for bcc's runs (pytrace and bpftrace ignore it)
        try:
            stop(bcc.start(SCENARIOS["@ = count()"][1]))
            tools.append(bcc)
        except RuntimeError:
            print("# bcc is installed but cannot compile here (kernel headers?): left out")
    tools.append(Tool("floor", lambda p: [sys.executable, "-c", FLOOR_RUNNER], "Attached"))
    env_note = f"{os.cpu_count()} CPUs, {os.uname().release}, {time.strftime('%Y-%m-%d %H:%M')}"
    print(f"# bench_events: {env_note}")
    skip = set(args.skip.split(","))
    if "per-event" not in skip:
        rows = per_event(tools, binary, args.pairs, args.calls)
        print(f"\nadded ns per getppid() call, median of {args.pairs} rounds of A/B/A loops of {args.calls} calls "
              f"(CPU 1 / CPU 0), and pytrace's ratio to each tool")
        by_scenario: dict[str, dict[str, tuple]] = {}
        for scenario, tool, cpu1, cpu0 in rows:
            by_scenario.setdefault(scenario, {})[tool] = (cpu1, cpu0)
        for scenario, results in by_scenario.items():
            mine = results["pytrace"]
            cells = []
            for tool, (cpu1, cpu0) in results.items():
                ratio = "" if tool == "pytrace" else \
                    f" (pytrace x{mine[0] / cpu1:.2f} / x{mine[1] / cpu0:.2f})" if cpu1 > 0 and cpu0 > 0 else ""
                cells.append(f"{tool} {cpu1:.0f} / {cpu0:.0f}{ratio}")
            print(f"  {scenario:22} " + "; ".join(cells))
    if "printf" not in skip:
        print(f"\nprintf delivery, producer paced for {args.seconds:g} s: correct lines delivered, lost, "
              f"producer's achieved rate")
        for rate in (int(r) for r in args.rates.split(",")):
            cells = []
            for tool in tools:
                if tool.name in ("bcc", "floor"):
                    continue
                correct, lost, achieved = delivery(tool, binary, rate, args.seconds)
                total = int(rate * args.seconds)
                cells.append(f"{tool.name} {100 * correct / total:.1f}% ({lost} lost, producer at {achieved / 1000:.0f}k/s)")
            print(f"  {rate // 1000}k/s: " + "; ".join(cells))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
