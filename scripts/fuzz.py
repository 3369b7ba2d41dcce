#!/usr/bin/env python3
"""The long fuzz run (tests/fuzz/ runs a few hundred examples in CI).

    .venv/bin/python scripts/fuzz.py [--examples N] [--seconds S] [--target programs|grammar|upstream|elf|all]

Compiles (never loads) generated and mutated programs for the fixture kernel
and reads mutated ELF files, as tests/fuzz/ does, but keeps going after a
finding: it prints every class of finding (exception type and innermost
frame, or a hang) with its count and smallest input, and exits 1 if there
was any. Programs come from the grammar, our own tests and scripts/*.bt, and
bpftrace's tools and runtime tests read at run time from BPFTRACE_SRC (a
bare bpftrace repository; never copied here).

Each target runs in a child process: if an input ends that process (a crash
rather than an exception), the parent records it as a "process exit" finding
with the input and starts the child again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ_DIR = os.path.join(os.path.dirname(HERE), "tests", "fuzz")
TARGETS = ("programs", "upstream", "grammar", "elf")


def child(target: str, examples: int, seconds: float, current: str, results: str) -> None:
    """Run one target in this process, appending findings to `results` (JSON lines)."""
    sys.path.insert(0, FUZZ_DIR)
    import fuzzing
    from hypothesis import HealthCheck, given, settings

    strategies = {
        "programs": lambda: fuzzing.mutated(fuzzing.own_programs()),
        "upstream": lambda: fuzzing.mutated(fuzzing.upstream_programs() or fuzzing.own_programs()),
        "grammar": fuzzing.generated,
        "elf": fuzzing.mutated_elf,
    }
    checker = fuzzing.check_elf if target == "elf" else fuzzing.check_program
    counted = {"n": 0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategies[target]())
    def run(data):
        counted["n"] += 1
        with open(current, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))
        finding = checker(data, seconds)
        if finding:
            with open(results, "a") as f:
                shown = data.hex() if isinstance(data, bytes) else data
                f.write(json.dumps({"kind": finding.kind, "where": finding.where, "input": shown[:4000],
                                    "size": len(data), "detail": finding.detail}) + "\n")

    run()
    with open(results, "a") as f:
        f.write(json.dumps({"done": counted["n"]}) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000, help="inputs per target (default 2000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="time limit of one input (default 10)")
    ap.add_argument("--target", choices=TARGETS + ("all",), default="all")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.examples, args.seconds, args.child[1], args.child[2])
        return 0

    work = tempfile.mkdtemp(prefix="pytrace-fuzz-")
    findings: dict[tuple[str, str], dict] = {}
    total = 0
    for target in (TARGETS if args.target == "all" else (args.target,)):
        current = os.path.join(work, f"{target}.current")
        results = os.path.join(work, f"{target}.jsonl")
        done = 0
        restarts = 0
        started = time.monotonic()
        while done < args.examples and restarts < 20:
            open(results, "w").close()
            proc = subprocess.run([sys.executable, __file__, "--examples", str(args.examples - done),
                                   "--seconds", str(args.seconds), "--child", target, current, results])
            ran = 0
            with open(results) as f:
                for line in f:
                    rec = json.loads(line)
                    if "done" in rec:
                        ran = rec["done"]
                        continue
                    key = (target, rec["kind"] + ": " + rec["where"])
                    old = findings.get(key)
                    findings[key] = rec if old is None or rec["size"] < old["size"] else old
                    findings[key]["count"] = (old or {}).get("count", 0) + 1
            if proc.returncode == 0:
                done += ran
                break
            # The child ended abnormally: the input it was on is a finding.
            restarts += 1
            with open(current, "rb") as f:
                data = f.read()
            key = (target, f"process exit: status {proc.returncode}")
            findings.setdefault(key, {"input": data[:4000].decode(errors="replace"), "size": len(data), "count": 0,
                                      "detail": ""})["count"] += 1
            done += max(ran, 1)
        total += done
        print(f"{target}: {done} inputs in {time.monotonic() - started:.0f} s", flush=True)
    print(f"\n{total} inputs, {len(findings)} classes of finding")
    for (target, where), rec in sorted(findings.items()):
        print(f"\n[{target}] {where}  (x{rec['count']})\n  smallest input ({rec['size']}): {rec['input'][:300]!r}")
        if rec.get("detail"):
            print("  " + rec["detail"].strip().splitlines()[-1])
    print(f"\nfull records: {work}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
