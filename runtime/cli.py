"""The `pytrace` command line: bpftrace's options and behaviour."""

from __future__ import annotations

import argparse
import os
import sys

from pytrace import __version__
from pytrace.lang.options import Options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.source import Source

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
    -f FORMAT      output format ('text', 'json', 'folded': stack maps as folded stacks)
    -q, --quiet    keep messages quiet
    --prometheus [HOST:]PORT
                   serve the maps as Prometheus metrics at http://HOST:PORT/metrics
    --stacks-out FILE
                   at exit, write the maps keyed by stacks to FILE as folded stacks
    --flamegraph FILE.svg
                   at exit, write the maps keyed by stacks as an SVG flame graph
    --repl         interactive: type probes, each attached at once (.help)
    --unsafe       allow unsafe/destructive functionality
    --usdt-file-activation
                   activate USDT semaphores in every process running the
                   probed file (always so here: the kernel does it)
    --debuginfo DIR[:DIR]
                   also search these directories for uprobe targets'
                   separate debug files (DWARF)

TROUBLESHOOTING OPTIONS:
    --dry-run      parse, load and attach, then exit without running
    --verify-only  load every program into the kernel's verifier, attach
                   nothing, and exit 0 when all of them are accepted
    -d, --debug STAGE
                   print a compiler stage: ast, types, ir, asm, verifier, all
    --emit FILE    compile for this kernel and write the compiled program to
                   FILE, without running it; `pytrace FILE` runs it, also
                   where no compiler (lark, llvmlite) is installed

EXAMPLES:
    pytrace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
        count openat() calls by process name
    pytrace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args->filename)); }'
        trace files opened, with the process name
"""

FORMATS = ("text", "json", "folded")
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
    p.add_argument("--usdt-file-activation", action="store_true")  # the kernel's ref_ctr already does this
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--debuginfo", action="append", default=[])
    p.add_argument("--verify-only", action="store_true")
    p.add_argument("--repl", action="store_true")
    p.add_argument("--prometheus")
    p.add_argument("--stacks-out")
    p.add_argument("--flamegraph")
    p.add_argument("-d", "--debug", action="append", default=[])
    p.add_argument("--emit", metavar="FILE")
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


class CompiledFile:
    """A program file that is a compiled artifact (runtime/artifact_file.py)."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data


def _read_program(args) -> Source | CompiledFile | None:
    if args.program is not None:
        return Source("stdin", args.program)
    if not args.rest:
        return None
    name = args.rest.pop(0)
    if name == "-":
        return Source("stdin", _decode(sys.stdin.buffer.read()))
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"failed to open file '{name}': {e.strerror}") from None
    from pytrace.runtime import artifact_file

    return CompiledFile(name, data) if artifact_file.is_artifact(data) else Source(name, _decode(data))


def _decode(data: bytes) -> str:
    """A script's text. bpftrace reads bytes, so a script in another encoding
    (a latin-1 comment) still runs: such a file is read as latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _error(msg: str) -> None:
    sys.stderr.write(f"ERROR: {msg}\n")


class Run:
    """One pytrace invocation, from argv to exit status."""

    def __init__(self, args) -> None:
        self.args = args
        self.child = None

    def main(self) -> int:
        from pytrace.runtime import driver
        from pytrace.runtime.lifecycle import Child

        args = self.args
        if args.list:
            is_file = args.rest and os.path.isfile(args.rest[0])
            source = _read_program(args) if args.program is not None or is_file else None
            if isinstance(source, CompiledFile):
                raise UsageError("-l lists the probes of a program's source, not of a compiled file")
            return driver.list_probes(source, args)
        source = _read_program(args)
        if source is None:
            sys.stderr.write(USAGE)
            return 1
        options = Options(params=list(args.rest), unsafe=args.unsafe, has_child=bool(args.cmd),
                          pid_filter=args.pid, debuginfo=tuple(args.debuginfo))
        driver.apply_env(options)
        if args.emit:
            return self._emit(source, options)
        if args.cmd and not (args.verify_only or "ast" in args.debug or "types" in args.debug):
            try:
                self.child = Child(args.cmd)  # held back until the probes are attached
            except ValueError as e:
                raise UsageError(str(e)) from None
        try:
            return self._run(source, options)
        finally:
            if self.child is not None:
                self.child.cancel()

    def _emit(self, source: Source | CompiledFile, options: Options) -> int:
        from pytrace.runtime import artifact_file

        if isinstance(source, CompiledFile):
            raise UsageError(f"{source.name} is already compiled")
        try:
            artifact_file.emit(self.args.emit, source, options)
        except CompileError as e:
            e.diagnostics.emit(sys.stderr)
            return 1
        except OSError as e:
            raise UsageError(f"failed to write '{self.args.emit}': {e.strerror}") from None
        return 0

    def _artifact(self, source: Source | CompiledFile, options: Options):
        """(the artifact, its source): compiled (or cached), or read from a compiled file."""
        from pytrace.runtime import artifact_file, driver

        if isinstance(source, CompiledFile):
            try:
                return artifact_file.load(source.name, source.data, params=options.params, pid=options.pid_filter)
            except artifact_file.ArtifactFileError as e:
                raise UsageError(str(e)) from None
        try:
            return driver.compile_source(source, options, self.args.debug), source
        except ModuleNotFoundError as e:
            if e.name not in ("lark", "llvmlite"):
                raise
            raise UsageError(f"this pytrace has no compiler ({e.name} is not installed): it runs programs "
                             f"compiled with --emit (pytrace FILE); install lark and llvmlite to compile") from None

    def _run(self, source: Source | CompiledFile, options: Options) -> int:
        from pytrace.runtime import driver, lifecycle, run_extras

        args = self.args
        try:
            artifact, source = self._artifact(source, options)
        except CompileError as e:
            e.diagnostics.emit(sys.stderr)
            return 1
        if artifact is None:  # -d ast/types only
            return 0
        driver.ensure_kernel_fs()
        if args.verify_only:
            return driver.verify_only(source, artifact, args)
        try:
            extras = run_extras.RunExtras(args, artifact)
        except run_extras.UsageError as e:
            raise UsageError(str(e)) from None
        try:
            out = extras.wrap(driver.make_output(args))
        except OSError as e:
            _error(f'Failed to open output file: "{args.output}": {e.strerror}')
            return 1
        verifier_log = "verifier" in args.debug or "all" in args.debug
        cpid = self.child.pid if self.child else 0
        # Like bpftrace, probes that target a process (uprobes, watchpoints) use -c's child.
        session = lifecycle.Session(artifact, out, cpid=cpid, pid=args.pid or cpid or None)
        stop = lifecycle.StopConditions(child=self.child, pid=args.pid)

        def on_loaded(session) -> None:
            if verifier_log:
                _write_verifier_logs(session)
            extras.on_loaded(session)

        try:
            return lifecycle.run_program(session, stop, dry_run=args.dry_run, log_level=2 if verifier_log else 0,
                                         on_loaded=on_loaded, on_closing=extras.on_closing)
        except run_extras.UsageError as e:
            raise UsageError(str(e)) from None
        except lifecycle.KERNEL_REFUSALS as e:
            sys.stderr.write(lifecycle.refusal(source, e, args.verbose)[0])
            return 1
        finally:
            out.close()


def _write_verifier_logs(session) -> None:
    from pytrace.runtime import driver

    driver.write_verifier_logs(session.tracer.loaded.logs)


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
        # Named as invoked: started as `bpftrace` (a drop-in link), it says so, as bpftrace does.
        name = "bpftrace" if os.path.basename(sys.argv[0]) == "bpftrace" else "pytrace"
        sys.stdout.write(f"{name} v{__version__}\n")
        return 0
    if args.format not in FORMATS:
        _error(f"Invalid output format \"{args.format}\"\nValid formats: 'text', 'json', 'folded'")
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
