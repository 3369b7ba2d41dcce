"""The `pytrace` command line: bpftrace's options and behaviour."""

from __future__ import annotations

import os
import sys

from pytrace import __version__
from pytrace.lang.options import Options
from pytrace.lang.diagnostics import CompileError
from pytrace.lang.source import Source
from pytrace.runtime import cache
from pytrace.runtime.output.writer import BUFFERING

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
    --no-warnings  disable all warning messages
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
    --cleanup      remove tracefs probe events left by killed pytrace runs
    --verify-only  load every program into the kernel's verifier, attach
                   nothing, and exit 0 when all of them are accepted
    -d, --debug STAGE
                   print a compiler stage: ast, types, ir, asm, verifier, all
    --emit FILE    compile for this kernel and write the compiled program to
                   FILE, without running it; `pytrace FILE` runs it, also
                   where no compiler (lark, llvmlite) is installed
    --aot FILE     as --emit, as an executable FILE that runs the program

EXAMPLES:
    pytrace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
        count openat() calls by process name
    pytrace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args->filename)); }'
        trace files opened, with the process name
"""

FORMATS = ("text", "json", "folded")
DEBUG_STAGES = ("ast", "types", "ir", "asm", "verifier", "all")
MODES = {"test": "test", "bench": "bench"}  # --mode values pytrace runs (bpftrace's others: codegen, ...)
PID_MAX = 0x400000  # the largest pid any kernel configuration allows


class UsageError(Exception):
    pass


def _parser():
    import argparse  # (not at import: a repeated command line's start needs no parser, see runtime/quickstart.py)

    # A fixed width: argparse would otherwise import shutil to ask the terminal's (start-up time).
    p = argparse.ArgumentParser(prog="pytrace", add_help=False, usage=argparse.SUPPRESS,
                                formatter_class=lambda prog: argparse.HelpFormatter(prog, width=80))
    p.add_argument("-e", dest="program")
    p.add_argument("-l", "--list", dest="list", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-V", "--version", action="store_true")
    p.add_argument("--info", action="store_true")
    p.add_argument("-p", "--pid")
    p.add_argument("-c", "--cmd")
    p.add_argument("-o", "--output")
    p.add_argument("-f", dest="format", default="text")
    p.add_argument("-B", dest="buffering", default="line")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-k", "--warnings", action="count", default=0)
    p.add_argument("--no-warnings", action="store_true")
    p.add_argument("-I", dest="include_dirs", action="append", default=[])
    p.add_argument("--include", dest="include_files", action="append", default=[])
    p.add_argument("--unsafe", action="store_true")
    p.add_argument("--usdt-file-activation", action="store_true")  # the kernel's ref_ctr already does this
    p.add_argument("--mode")
    p.add_argument("--test", action="store_true")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--probe-filter")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--cleanup", action="store_true")
    p.add_argument("--debuginfo", action="append", default=[])
    p.add_argument("--verify-only", action="store_true")
    p.add_argument("--verify-llvm-ir", action="store_true")  # llvmlite verifies every module anyway
    p.add_argument("--repl", action="store_true")
    p.add_argument("--prometheus")
    p.add_argument("--stacks-out")
    p.add_argument("--flamegraph")
    p.add_argument("-d", "--debug", action="append", default=[])
    p.add_argument("--emit", metavar="FILE")
    p.add_argument("--aot", metavar="FILE")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _parse(argv: list[str]):
    """Options may also follow the script and its arguments (GNU getopt order, as in
    bpftrace), so `./tool.bt -c CMD` works through a `#!/usr/bin/env pytrace` line."""
    parser = _parser()
    args = parser.parse_args(argv)
    rest, positional = args.rest, []
    args.named = []
    while rest:
        if rest[0] == "--":
            # After `--`: program options (`--name[=value]`, read by getopt()) and positional parameters.
            after = rest[1:]
            args.named = [a[2:] for a in after if a.startswith("--") and len(a) > 2]
            after = [a for a in after if not (a.startswith("--") and len(a) > 2)]
            positional.extend(after if positional else ["--", *after])
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
        return Source("stdin", _decode(_read_bounded(sys.stdin.buffer, "stdin")))
    try:
        with open(name, "rb") as f:
            data = _read_bounded(f, name)
    except OSError as e:
        raise UsageError(f"failed to open file '{name}': {e.strerror}") from None
    from pytrace.runtime import artifact_file

    return CompiledFile(name, data) if artifact_file.is_artifact(data) else Source(name, _decode(data))


MAX_SCRIPT_BYTES = 16 << 20  # a script larger than this is not a script (e.g. /dev/zero)


def _read_bounded(f, name: str) -> bytes:
    data = f.read(MAX_SCRIPT_BYTES + 1)
    if len(data) > MAX_SCRIPT_BYTES:
        raise UsageError(f"file '{name}' is too large for a script (the limit is {MAX_SCRIPT_BYTES} bytes)")
    return data


def _decode(data: bytes) -> str:
    """A script's text. bpftrace reads bytes, so a script in another encoding
    (a latin-1 comment) still runs: such a file is read as latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _error(msg: str) -> None:
    sys.stderr.write(f"ERROR: {msg}\n")


def _invoked_name() -> str:
    """The command's name as invoked (bpftrace prints "bpftrace v0.24.0"); `python -m pytrace` is pytrace."""
    name = os.path.basename(sys.argv[0])
    return "pytrace" if not name or name.endswith(".py") else name


def parse_pid(text: str) -> int:
    """-p's value, checked as bpftrace checks it (util::to_uint, then the range)."""
    import re

    digits = text.replace("_", "")
    number = re.match(r"[0-9]+", digits)
    if number is None:
        raise UsageError(f"Failed to parse pid: invalid integer: {text}")
    if number.end() != len(digits):
        raise UsageError(f"Failed to parse pid: invalid trailing bytes: {text}")
    pid = int(digits)
    if pid > PID_MAX:
        raise UsageError(f"Pid out of range: {pid}")
    return pid


def _check_options(args) -> str | None:
    """Option combinations bpftrace refuses, with its messages; sets args.mode
    and args.pid (an int). Returns an error message or None."""
    if args.buffering not in BUFFERING:
        return "USAGE: -B must be either 'line', 'full', or 'none'."
    if args.warnings > 1:
        return ("USAGE: -kk has been deprecated. Use a single -k for runtime warnings for errors in map "
                "lookups and probe reads.")
    if args.warnings and args.no_warnings:
        return "USAGE: -k, --warnings conflicts with --no-warnings"
    if args.mode is not None and args.mode not in ("codegen", "compiler-bench", "bench", "test", "format"):
        return "USAGE: --mode can only be 'codegen', 'compiler-bench', 'bench', 'test' or 'format'."
    for flag in ("test", "bench"):
        if getattr(args, flag):
            if args.mode is not None:
                return f"USAGE: --{flag} conflicts with existing --mode"
            args.mode = flag
    if args.mode is not None and args.mode not in MODES:
        return f"--mode {args.mode} is not supported by pytrace"
    if args.cmd and args.pid is not None:
        return "USAGE: Cannot use both -c and -p."
    if args.probe_filter is not None:
        import re

        try:
            re.compile(args.probe_filter)
        except re.error as e:
            return f"Invalid --probe-filter regex '{args.probe_filter}': {e}"
    if args.pid is not None:
        args.pid = parse_pid(args.pid)
    return None


def compile_options(args) -> Options:
    """The compile options of a run's program: from its command line and the environment
    (args.rest: the positional parameters, once the program file's name is taken off)."""
    from pytrace.runtime import driver

    options = Options(params=list(args.rest), named_params=args.named, unsafe=args.unsafe,
                      has_child=bool(args.cmd), pid_filter=args.pid, debuginfo=tuple(args.debuginfo),
                      include_files=tuple(args.include_files), helper_warnings=bool(args.warnings))
    driver.apply_env(options)
    return options


class Run:
    """One pytrace invocation, from argv to exit status. `remember`: the argv these options were
    parsed from, kept in the cache (runtime/cache.py) once its program is compiled, so that the
    same command line starts without argparse the next time."""

    def __init__(self, args, remember: list[str] | None = None) -> None:
        self.args = args
        self.child = None
        self.remember = remember
        self.parsed = {name: list(value) if isinstance(value, list) else value
                       for name, value in vars(args).items()} if remember is not None else {}

    def main(self) -> int:
        from pytrace.runtime import driver
        from pytrace.runtime.lifecycle import Child

        args = self.args
        if args.list:
            is_file = args.rest and os.path.isfile(args.rest[0])
            search = args.rest[0] if args.rest and not is_file and args.program is None else ""
            if "." in search and not any(c in search for c in ":*") and not args.no_warnings:
                sys.stderr.write(f"WARNING: It appears that '{args.rest[0]}' is a filename but the file does not "
                                 f"exist. Treating '{args.rest[0]}' as a search pattern.\n")
            source = _read_program(args) if args.program is not None or is_file else None
            if isinstance(source, CompiledFile):
                raise UsageError("-l lists the probes of a program's source, not of a compiled file")
            return driver.list_probes(source, args)
        source = _read_program(args)
        if source is None:
            sys.stderr.write(USAGE)
            return 1
        options = compile_options(args)
        if args.emit or args.aot:
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
                self.child.terminate()

    def _emit(self, source: Source | CompiledFile, options: Options) -> int:
        from pytrace.runtime import artifact_file

        if isinstance(source, CompiledFile):
            raise UsageError(f"{source.name} is already compiled")
        path = self.args.aot or self.args.emit
        try:
            artifact_file.emit(path, source, options, executable=bool(self.args.aot))
        except CompileError as e:
            e.diagnostics.emit(sys.stderr)
            return 1
        except OSError as e:
            raise UsageError(f"failed to write '{path}': {e.strerror}") from None
        return 0

    def _artifact(self, source: Source | CompiledFile, options: Options):
        """(the artifact, its source): compiled (or cached), or read from a compiled file."""
        from pytrace.runtime import driver

        if isinstance(source, CompiledFile):
            from pytrace.runtime import artifact_file

            try:
                return artifact_file.load(source.name, source.data, params=options.params, pid=options.pid_filter,
                                          named_params=options.named_params)
            except artifact_file.OptionsDiffer as e:  # compiled again, for this run's program options
                try:
                    return driver.compile_source(e.source, options, self.args.debug,
                                                 warnings=not self.args.no_warnings), e.source
                except ModuleNotFoundError as missing:
                    if missing.name not in ("lark", "llvmlite"):
                        raise
                    raise UsageError(str(e)) from None
            except artifact_file.ArtifactFileError as e:
                raise UsageError(str(e)) from None
        try:
            return driver.compile_source(source, options, self.args.debug,
                                         warnings=not self.args.no_warnings), source
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
        if self.remember is not None and driver.cache_usable(source, args.debug):
            cache.remember_args(self.remember, self.parsed)
        if not artifact.programs:  # as bpftrace: an empty program has nothing to run
            if not args.quiet:
                sys.stdout.write("No probes to attach\n")
            return 1
        driver.ensure_kernel_fs()
        if args.verify_only:
            return driver.verify_only(source, artifact, args)
        if args.probe_filter is not None:
            artifact = driver.filter_probes(artifact, args.probe_filter)
            if artifact is None:
                if not args.quiet:
                    sys.stdout.write("No probes to attach\n")
                return 1
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
            return lifecycle.run_program(session, stop, dry_run=args.dry_run, log_level=2 if verifier_log else 1 if args.verbose else 0,
                                         on_loaded=on_loaded, on_closing=extras.on_closing,
                                         mode=MODES.get(args.mode or "", ""))
        except run_extras.UsageError as e:
            raise UsageError(str(e)) from None
        except lifecycle.KERNEL_REFUSALS as e:
            sys.stderr.write(lifecycle.refusal(source, e, args.verbose)[0])
            return 1
        finally:
            out.close()


class Args:
    """The parsed options of a command line recalled from the cache (what argparse's Namespace held)."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


def _parse_and_check(argv: list[str]):
    """argv's options, parsed and checked as bpftrace checks them; or the exit code when the
    command ends here (a usage error, --help, --version, --info)."""
    try:
        args = _parse(argv)
    except SystemExit:
        sys.stderr.write(USAGE)
        return 1
    if args.help:
        sys.stdout.write(USAGE)
        return 0
    if args.version:
        sys.stdout.write(f"{_invoked_name()} v{__version__}\n")
        return 0
    if args.info:
        from pytrace.runtime.info import report
        sys.stdout.write(report())
        return 0
    try:
        problem = _check_options(args)
    except UsageError as e:
        problem = str(e)
    if problem:
        _error(problem)
        return 1
    if args.format not in FORMATS:
        _error(f"Invalid output format \"{args.format}\"\nValid formats: 'text', 'json', 'folded'")
        return 1
    for stage in args.debug:
        if stage not in DEBUG_STAGES:
            _error(f"USAGE: invalid option for -d: {stage}")
            return 1
    if args.rest and args.rest[0] == "--":
        args.rest.pop(0)
    return args


def _write_verifier_logs(session) -> None:
    from pytrace.runtime import driver

    driver.write_verifier_logs(session.tracer.loaded.logs)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the command itself: found by its name (`pidof pytrace`), as bpftrace is
        from pytrace.runtime import proctitle

        proctitle.set_from_command_line()
    argv = sys.argv[1:] if argv is None else argv
    recalled = cache.recall_args(argv) if cache.enabled() else None
    if recalled is not None:  # this command line ran before: parsed and checked then
        args = Args(recalled)
    else:
        args = _parse_and_check(argv)
        if isinstance(args, int):
            return args
    if args.cleanup:
        from pytrace.runtime import cleanup

        for event in cleanup.remove_stale():
            sys.stdout.write(f"removed stale probe event {event}\n")
        return 0
    if args.repl:
        from pytrace.runtime.repl import run_repl
        return run_repl(args)
    try:
        return Run(args, remember=None if recalled is not None else argv).main()
    except UsageError as e:
        _error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`pytrace ... | head`): end quietly, as bpftrace does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at shutdown
        return 141
    except PermissionError as e:
        _error(f"{e.strerror}: pytrace needs root (CAP_BPF and CAP_PERFMON) to load and attach probes")
        return 1
