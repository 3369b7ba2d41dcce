"""The `pytrace` command line: bpftrace's options and behaviour."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time

from pytrace import __version__
from pytrace.lang.options import Options
from pytrace.lang.diagnostics import CompileError, Diagnostic
from pytrace.lang.source import Source, Span

USAGE = """\
pytrace - a bpftrace-compatible tracing language for Linux, in Python

USAGE:
    pytrace [options] filename
    pytrace [options] - <stdin input>
    pytrace [options] -e 'program'
    pytrace [options] --repl

OPTIONS:
    -e 'program'   execute this program
    -l, --list [search|filename]
                   list kernel probes or probes in a program
    -v, --verbose  verbose messages (with -l, also show probe arguments)
    -h, --help     show this help message
    -V, --version  pytrace version

    -p, --pid PID  filter actions and enable USDT probes on PID
    -c, --cmd CMD  run CMD once probes are attached; exit when it ends
    -o, --output FILE
                   redirect pytrace output to FILE
    -f FORMAT      output format ('text', 'json')
    -q, --quiet    keep messages quiet
    --repl         interactive: type probes, each attached at once (.help)
    --unsafe       allow unsafe/destructive functionality

TROUBLESHOOTING OPTIONS:
    --dry-run      parse, load and attach, then exit without running
    --verify-only  load every program into the kernel's verifier, attach
                   nothing, and exit 0 when all of them are accepted
    -d, --debug STAGE
                   print a compiler stage: ast, types, ir, asm, verifier, all

EXAMPLES:
    pytrace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
        count openat() calls by process name
    pytrace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args->filename)); }'
        trace files opened, with the process name
"""

DEBUG_STAGES = ("ast", "types", "ir", "asm", "verifier", "all")


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pytrace", add_help=False, usage=argparse.SUPPRESS)
    p.add_argument("-e", dest="program")
    p.add_argument("-l", "--list", dest="list", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-V", "--version", action="store_true")
    p.add_argument("-p", "--pid", type=int)
    p.add_argument("-c", "--cmd")
    p.add_argument("-o", "--output")
    p.add_argument("-f", dest="format", default="text")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--unsafe", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--verify-only", action="store_true")
    p.add_argument("--repl", action="store_true")
    p.add_argument("-d", "--debug", action="append", default=[])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _parse(argv: list[str]) -> argparse.Namespace:
    """Options may also follow the script and its arguments (GNU getopt order, as in
    bpftrace), so `./tool.bt -c CMD` works through a `#!/usr/bin/env pytrace` line."""
    parser = _parser()
    args = parser.parse_args(argv)
    rest, positional = args.rest, []
    while rest:
        if rest[0] == "--":
            positional.extend(rest[1:] if positional else rest)
            break
        if rest[0].startswith("-") and rest[0] != "-":
            args = parser.parse_args(rest, namespace=args)
            if args.rest != rest:
                rest = args.rest
                continue
        positional.append(rest[0])
        rest = rest[1:]
    args.rest = positional
    return args


def _read_program(args) -> Source | None:
    if args.program is not None:
        return Source("stdin", args.program)
    if not args.rest:
        return None
    name = args.rest.pop(0)
    if name == "-":
        return Source("stdin", sys.stdin.read())
    try:
        with open(name) as f:
            return Source(name, f.read())
    except OSError as e:
        raise UsageError(f"failed to open file '{name}': {e.strerror}") from None


def _error(msg: str) -> None:
    sys.stderr.write(f"ERROR: {msg}\n")


def _program_span(source: Source, prog) -> Span | None:
    if prog.span:
        return Span(source, prog.span[0], prog.span[1])
    return None


def _kernel_refusal(source: Source, prog, reason: str, hint: str | None) -> str:
    d = Diagnostic("ERROR", f"{prog.probe}: {reason}", _program_span(source, prog), [hint] if hint else [])
    return d.render()


class Run:
    """One pytrace invocation, from argv to exit status."""

    def __init__(self, args) -> None:
        self.args = args
        self.stop_reason: str | None = None
        self.child_pid = 0
        self.child_go: int | None = None
        self.tracer = None

    # ------------------------------------------------------------ child process (-c)
    def start_child(self) -> None:
        """Fork the -c command, held back until the probes are attached."""
        argv = shlex.split(self.args.cmd)
        if not argv:
            raise UsageError("-c needs a command")
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write_fd)
            try:
                if os.read(read_fd, 1) != b"g":
                    os._exit(0)
                os.execvp(argv[0], argv)
            except OSError as e:
                sys.stderr.write(f"ERROR: failed to run '{argv[0]}': {e.strerror}\n")
            os._exit(127)
        os.close(read_fd)
        self.child_pid, self.child_go = pid, write_fd

    def release_child(self) -> None:
        if self.child_go is not None:
            os.write(self.child_go, b"g")
            os.close(self.child_go)
            self.child_go = None

    def cancel_child(self) -> None:
        if self.child_go is not None:
            os.close(self.child_go)  # the child sees EOF and exits
            self.child_go = None
        if self.child_pid:
            try:
                os.waitpid(self.child_pid, 0)
            except ChildProcessError:
                pass

    def child_done(self) -> bool:
        if not self.child_pid:
            return False
        try:
            pid, _ = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return pid != 0

    # ------------------------------------------------------------ main flow
    def main(self) -> int:
        from pytrace.runtime import driver

        args = self.args
        if args.list:
            is_file = args.rest and os.path.isfile(args.rest[0])
            source = _read_program(args) if args.program is not None or is_file else None
            return driver.list_probes(source, args)
        source = _read_program(args)
        if source is None:
            sys.stderr.write(USAGE)
            return 1
        options = Options(params=list(args.rest), unsafe=args.unsafe, has_child=bool(args.cmd),
                          pid_filter=args.pid)
        driver.apply_env(options)
        if args.cmd and not (args.verify_only or "ast" in args.debug or "types" in args.debug):
            self.start_child()
        try:
            return self._run(source, options)
        finally:
            self.cancel_child()

    def _run(self, source: Source, options: Options) -> int:
        from pytrace.runtime import driver

        args = self.args
        try:
            artifact = driver.compile_source(source, options, args.debug)
        except CompileError as e:
            e.diagnostics.emit(sys.stderr)
            return 1
        if artifact is None:  # -d ast/types only
            return 0
        driver.ensure_kernel_fs()
        if args.verify_only:
            return driver.verify_only(source, artifact, args)
        out = driver.make_output(args)
        from pytrace.runtime.attach import AttachError
        from pytrace.runtime.loader import LoadError, MapError
        from pytrace.runtime.session import Tracer

        # Like bpftrace, probes that target a process (uprobes, watchpoints) use -c's child.
        tracer = Tracer(artifact, out, cpid=self.child_pid, pid=args.pid or self.child_pid or None)
        self.tracer = tracer
        try:
            try:
                tracer.check_attachable()
                tracer.load(log_level=2 if ("verifier" in args.debug or "all" in args.debug) else 0)
                if "verifier" in args.debug or "all" in args.debug:
                    for name, log in tracer.loaded.logs.items():
                        sys.stderr.write(f"; verifier log for {name}\n{log}\n")
                if not args.dry_run:
                    # As bpftrace: BEGIN runs before any other probe is attached (so its output
                    # comes first); its events are delivered once "Attached N probes" is out.
                    tracer.run_special("BEGIN", deliver=False)
                out.attached(tracer.attach())
            except LoadError as e:
                prog = e.program
                sys.stderr.write(_kernel_refusal(source, prog, e.reason, None))
                if args.verbose and e.error.log:
                    sys.stderr.write(e.error.log)
                return 1
            except AttachError as e:
                sys.stderr.write(_kernel_refusal(source, e.program, e.reason, e.hint))
                return 1
            except MapError as e:
                sys.stderr.write(e.describe() + "\n")
                return 1
            if args.dry_run:
                return 0
            return self._trace(tracer)
        finally:
            tracer.close()
            out.close()

    def _trace(self, tracer) -> int:
        def on_signal(signum, frame):
            self.stop_reason = "signal"

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.release_child()
            last_lost_check = time.monotonic()
            while not tracer.exited and self.stop_reason is None:
                tracer.poll(100)
                if self.child_done():
                    tracer.poll(0)
                    break
                if self.args.pid and not os.path.exists(f"/proc/{self.args.pid}"):
                    break
                now = time.monotonic()
                if now - last_lost_check > 1:
                    tracer.report_lost()
                    last_lost_check = now
            # Exit path: stop probes, run END, print maps.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            tracer.detach()
            for warning in tracer.never_fired():
                sys.stderr.write(warning)
            tracer.poll(0)
            tracer.run_special("END")
            tracer.report_lost(final=True)
            tracer.print_maps()
            return tracer.exit_code
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parse(argv)
    except SystemExit:
        sys.stderr.write(USAGE)
        return 1
    if args.help:
        sys.stdout.write(USAGE)
        return 0
    if args.version:
        sys.stdout.write(f"pytrace v{__version__}\n")
        return 0
    if args.format not in ("text", "json"):
        _error(f"Invalid output format \"{args.format}\"\nValid formats: 'text', 'json'")
        return 1
    for stage in args.debug:
        if stage not in DEBUG_STAGES:
            _error(f"USAGE: invalid option for -d: {stage}")
            return 1
    if args.rest and args.rest[0] == "--":
        args.rest.pop(0)
    if args.repl:
        from pytrace.runtime.repl import run_repl
        return run_repl(args)
    try:
        return Run(args).main()
    except UsageError as e:
        _error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except PermissionError as e:
        _error(f"{e.strerror}: pytrace needs root (CAP_BPF and CAP_PERFMON) to load and attach probes")
        return 1
