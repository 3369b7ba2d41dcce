#!/usr/bin/env python3
"""Start-up benchmark, pytrace (uncached: compiles; cached: a cached artifact)
beside bpftrace in one run, with ratios:

* exec -> probes attached: the tracer is started, its attach message awaited,
  then it is stopped with SIGINT. bpftrace 0.17 prints "Attaching N probes..."
  before it attaches and pytrace "Attached N probes" after, so this favours bpftrace.
* "uncached" is a program run for the first time: its compiled artifact and its parsed
  command line are not cached, the grammar's parse tables are (lark builds them once per install).
* exec -> first event: `printf` + `exit()` on the first getppid(), which another process
  calls every 0.1 ms: when the probe is really attached, whatever a tool prints first.
* a whole run with `-c /bin/true`: wall time, CPU time and peak RSS until exit.

    sudo .venv/bin/python scripts/bench_startup.py [--runs N]

Speed targets live here, not in timed tests (the machine's load varies)."""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAM = "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }"
FIRST_EVENT = 'tracepoint:syscalls:sys_enter_getppid { printf("hit\\n"); exit(); }'
# The Python toolchain floor of an uncached run: start Python, import lark and llvmlite, parse the
# one-liner with a small LALR grammar (its parse tables cached, as pytrace's are) and emit a trivial
# BPF object with llvmlite. No bpf(2), no attach: what any Python compiler of this language pays.
FLOOR = r'''
import sys
import lark
import llvmlite
llvmlite.ir_layer_typed_pointers_enabled = False
import llvmlite.binding as llvm
import llvmlite.ir as ir
GRAMMAR = """
start: probe+
probe: NAME ":" NAME ":" NAME "{" stmt* "}"
stmt: "@" "[" NAME "]" "=" NAME "(" ")" ";"
NAME: /[A-Za-z_][A-Za-z_0-9]*/
%ignore /\s+/
"""
lark.Lark(GRAMMAR, parser="lalr", cache=sys.argv[1]).parse(sys.argv[2])
llvm.initialize_all_targets()
llvm.initialize_all_asmprinters()
m = ir.Module(name="floor")
m.triple = "bpfel"
fn = ir.Function(m, ir.FunctionType(ir.IntType(64), [ir.PointerType()]), name="prog")
ir.IRBuilder(fn.append_basic_block()).ret(ir.Constant(ir.IntType(64), 0))
tm = llvm.Target.from_triple("bpfel").create_target_machine(opt=2)
mod = llvm.parse_assembly(str(m))
mod.verify()
tm.emit_object(mod)
'''
# Calls getppid() every 0.1 ms, so a tracer sees its first event as soon as it is attached.
TICKER = "import os, time\nwhile True:\n    os.getppid()\n    time.sleep(0.0001)\n"


def time_to_attach(argv: list[str], env: dict, marker: tuple = ("Attach", '{"type": "attached')) -> float:
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
            if line.startswith(marker):
                elapsed = time.perf_counter() - start
            elif not line and proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited early: {proc.stderr.read()}")
    if marker[0] == "Attach":
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
    env.pop("PYTRACE_NO_CACHE", None)
    python = plain_install(cache)
    command = os.path.join(os.path.dirname(python), "pytrace")
    pytrace = [command, "-e", PROGRAM]
    bpftrace = shutil.which("bpftrace")
    version = subprocess.run([bpftrace, "--version"], capture_output=True,
                             text=True).stdout.strip() if bpftrace else ""

    def uncache() -> None:
        """Forget compiled programs and parsed command lines (a program run for the first time);
        keep the grammar's parse tables (made once per install)."""
        for pattern in ("*.artifact", "*.warnings", "argv-*.args"):
            for name in glob.glob(os.path.join(cache, "pytrace", pattern)):
                os.unlink(name)

    # The tools take turns within each round, so a change in the machine's load hits both.
    bcc = bcc_command()  # [] when bcc is not installed or cannot compile here
    attach = {"pytrace, uncached": [], "pytrace, cached": [], version: [], "bcc": []}
    first = {"pytrace, uncached": [], "pytrace, cached": [], version: []}
    ticker = subprocess.Popen([sys.executable, "-c", TICKER])
    whole = {"pytrace, uncached": [], "pytrace, cached": [], version: [], "toolchain floor": [],
             "bcc (attach, then exit)": []}
    floor = [python, "-c", FLOOR, os.path.join(cache, "floor-grammar.cache"), PROGRAM]
    time_whole_run(floor, env)  # its grammar's parse tables, made once
    for _ in range(args.runs):
        uncache()
        attach["pytrace, uncached"].append((time_to_attach(pytrace, env), 0, 0))
        attach["pytrace, cached"].append((time_to_attach(pytrace, env), 0, 0))
        uncache()
        whole["pytrace, uncached"].append(time_whole_run(pytrace + ["-c", "/bin/true"], env))
        whole["pytrace, cached"].append(time_whole_run(pytrace + ["-c", "/bin/true"], env))
        whole["toolchain floor"].append(time_whole_run(floor, env))
        uncache()
        for name in ("pytrace, uncached", "pytrace, cached"):
            first[name].append((time_to_attach([command, "-e", FIRST_EVENT], env, ("hit",)), 0, 0))
        if bpftrace:
            first[version].append((time_to_attach([bpftrace, "-e", FIRST_EVENT], env, ("hit",)), 0, 0))
            attach[version].append((time_to_attach([bpftrace, "-e", PROGRAM], env), 0, 0))
            whole[version].append(time_whole_run([bpftrace, "-e", PROGRAM, "-c", "/bin/true"], env))
        if bcc:
            attach["bcc"].append((time_to_attach(bcc, env), 0, 0))
            whole["bcc (attach, then exit)"].append(time_whole_run(bcc + ["exit"], env))
    ticker.kill()
    ticker.wait()
    start = python_start(python)
    shutil.rmtree(cache, ignore_errors=True)
    print(f"# bench_startup: {os.cpu_count()} CPUs, {os.uname().release}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"median of {args.runs} rounds")
    report(f"exec -> probes attached, `{PROGRAM}` (the tool's attach message)", attach, version)
    report(f"exec -> first event printed, `{FIRST_EVENT}` (getppid every 0.1 ms)", first, version)
    report("whole run with -c /bin/true (wall, CPU, peak RSS)", whole, version)
    median = {name: statistics.median(r[0] for r in runs) * 1000 for name, runs in whole.items() if runs}
    print(f"\nuncached whole run - toolchain floor: {median['pytrace, uncached'] - median['toolchain floor']:.0f} ms"
          f"\nuncached - cached whole run (the compile): "
          f"{median['pytrace, uncached'] - median['pytrace, cached']:.0f} ms"
          f"\ntoolchain floor - Python's start (`python -c pass`): "
          f"{median['toolchain floor'] - start:.0f} ms; Python's start {start:.0f} ms")
    return 0


def bcc_command() -> list[str]:
    """bcc running the one-liner's equivalent (bench_events.py's C program), printing
    "Attached" once attached; with a last argument "exit", it exits there."""
    from pytrace.scripts import bench_events

    if not os.path.exists("/usr/lib/python3/dist-packages/bcc/__init__.py"):
        return []
    headers = bench_events.kernel_source()
    command = ["env", f"BCC_KERNEL_SOURCE={headers}"] if headers else []
    command += ["/usr/bin/python3", "-c", BCC_RUNNER, bench_events.SCENARIOS["@[comm] = count()"][1]]
    if subprocess.run(command + ["exit"], capture_output=True).returncode:
        print("# bcc is installed but cannot compile here: left out")
        return []
    return command


BCC_RUNNER = r"""
import sys, time
from bcc import BPF
b = BPF(text=sys.argv[1])
print("Attached", flush=True)
if sys.argv[2:] != ["exit"]:
    try:
        time.sleep(3600)
    except KeyboardInterrupt:
        pass
"""


def python_start(python: str) -> float:
    """Milliseconds `python -c pass` takes (median of 9)."""
    runs = []
    for _ in range(9):
        start = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def plain_install(workdir: str) -> str:
    """A Python that imports this checkout as an installed (not editable) pytrace would be
    imported: a virtualenv whose .pth names a directory holding `pytrace` (a symlink to the
    checkout) and this venv's site-packages (lark, llvmlite), and whose bin/pytrace is the
    command as pip installs it (scripts/pytrace, its first line naming the venv's python).
    The development venv's editable install adds an import hook that costs about 20 ms at
    every start; a `pip install` has none."""
    import sysconfig
    import venv

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env_dir, src = os.path.join(workdir, "venv"), os.path.join(workdir, "src")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    os.makedirs(src)
    os.symlink(root, os.path.join(src, "pytrace"))
    python = os.path.join(env_dir, "bin", "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(purelib, "pytrace-bench.pth"), "w") as f:
        f.write(f"{src}\n{sysconfig.get_paths()['purelib']}\n")
    with open(os.path.join(root, "scripts", "pytrace")) as f:
        script = f.read().split("\n", 1)[1]
    command = os.path.join(env_dir, "bin", "pytrace")
    with open(command, "w") as f:
        f.write(f"#!{python}\n{script}")
    os.chmod(command, 0o755)
    return python


def time_whole_run(argv: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one run to its end."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv} failed: {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def report(title: str, rows: dict, reference: str) -> None:
    print(f"\n{title}:")
    ref = statistics.median(r[0] for r in rows.get(reference) or [(0,)])
    for name, runs in rows.items():
        if not runs:
            continue
        wall = statistics.median(r[0] for r in runs)
        line = f"  {name:24} {wall * 1000:6.0f} ms ({min(r[0] for r in runs) * 1000:.0f}-{max(r[0] for r in runs) * 1000:.0f})"
        if runs[0][1]:
            line += f", {statistics.median(r[1] for r in runs):.2f} s CPU, {max(r[2] for r in runs) / 1024:.0f} MB"
        if ref and name != reference:
            line += f"   x{wall / ref:.2f} of bpftrace"
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
