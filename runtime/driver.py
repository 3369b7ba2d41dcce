"""The steps of a pytrace run that sit around its lifecycle (runtime/lifecycle.py):
compiling (with a cache of compiled artifacts), debug dumps, verify-only,
listing probes, and making sure the kernel filesystems are mounted."""

from __future__ import annotations

import os
import sys

from pytrace.codegen.artifact import Artifact
from pytrace.lang.options import UNSTABLE_MODES, Options
from pytrace.lang.source import Source
from pytrace.runtime import cache

ENV_OPTIONS = {"BPFTRACE_MAX_STRLEN": "max_strlen", "BPFTRACE_MAX_MAP_KEYS": "max_map_keys",
               "BPFTRACE_STRLEN": "max_strlen", "BPFTRACE_PERF_RB_PAGES": "perf_rb_pages",
               "BPFTRACE_MAX_PROBES": "max_probes", "BPFTRACE_MAX_CAT_BYTES": "max_cat_bytes",
               "BPFTRACE_LOG_SIZE": "log_size", "BPFTRACE_ON_STACK_LIMIT": "on_stack_limit"}


def apply_env(options: Options) -> None:
    """The BPFTRACE_* environment variables bpftrace honours."""
    for var, attr in ENV_OPTIONS.items():
        value = os.environ.get(var)
        if value and value.isdigit():
            setattr(options, attr, int(value))
    options.dummy_ts_map = os.environ.get("BPFTRACE_DUMMY_TS_MAP", "")
    stack_mode = os.environ.get("BPFTRACE_STACK_MODE", "").lower()
    if stack_mode:
        from pytrace.lang.types import STACK_MODES  # (the language's types: only when it is set)

        if stack_mode in STACK_MODES:
            options.stack_mode = stack_mode
    show_debug_info = os.environ.get("BPFTRACE_SHOW_DEBUG_INFO", "").lower()
    if show_debug_info in ("true", "1", "false", "0"):
        options.show_debug_info = show_debug_info in ("true", "1")
    cache_mode = os.environ.get("BPFTRACE_CACHE_USER_SYMBOLS")
    if cache_mode:
        from pytrace.lang.passes.config import cache_user_symbols

        options.cache_user_symbols = cache_user_symbols(cache_mode) or options.cache_user_symbols
    unstable = os.environ.get("BPFTRACE_UNSTABLE_TSERIES", "").lower()
    options.unstable_tseries = UNSTABLE_MODES.get(unstable, options.unstable_tseries)


def ensure_kernel_fs() -> None:
    """Mount tracefs and bpffs when they are missing (needs root)."""
    mounts = {
        "/sys/kernel/tracing": "tracefs",
        "/sys/kernel/debug": "debugfs",
        "/sys/fs/bpf": "bpf",
    }
    for path, fstype in mounts.items():
        probe = os.path.join(path, "events") if fstype == "tracefs" else path
        if fstype == "tracefs" and os.path.exists(probe):
            continue
        if fstype != "tracefs" and os.path.ismount(path):
            continue
        if os.path.isdir(path):
            import subprocess  # only when a filesystem is missing (start-up time)

            subprocess.run(["mount", "-t", fstype, fstype, path], capture_output=True)


def _imports_files(text: str) -> bool:
    """Whether a program has `import "file"` (`re` only then: it costs a cached program's start)."""
    if "import" not in text:
        return False
    import re

    return re.search(r'\bimport\s*"', text) is not None


def cache_usable(source: Source, debug: list[str]) -> bool:
    """Whether compile_source() may reuse or keep a compiled program: not when the cache is off, a
    compiler stage is printed, or the program imports files (their text is not in the cache key)."""
    shown = {"ast", "types", "ir", "asm"} if "all" in debug else set(debug)
    return cache.enabled() and not (shown & {"ast", "types", "ir", "asm"}) and not _imports_files(source.text)


def compile_source(source: Source, options: Options, debug: list[str], warnings: bool = True) -> Artifact | None:
    """Source -> Artifact, reusing a cached artifact when nothing changed.

    Returns None when only `-d ast` / `-d types` was asked for."""
    want = set(debug)
    if "all" in want:
        want |= {"ast", "types", "ir", "asm", "verifier"}
    use_cache = cache_usable(source, debug)
    key = cache.key(source, options) if use_cache else ""
    if use_cache:
        artifact = cache.load_artifact(key, warnings)
        if artifact is not None:
            return artifact
    if want - {"ast", "types"} or not want:  # LLVM loads in a child while the passes run
        from pytrace.codegen import emit

        emit.start_backend()
    from pytrace.lang.passes import analyse

    ctx = analyse(source, options)
    ctx.diags.emit(sys.stderr, warnings=warnings)  # warnings (none with --no-warnings)
    if "ast" in want:
        from pytrace.runtime.debug_dump import dump_ast
        sys.stdout.write(dump_ast(ctx.program))
    if "types" in want:
        from pytrace.runtime.debug_dump import dump_ast
        sys.stdout.write(dump_ast(ctx.program, types=True))
    if want and not (want - {"ast", "types"}):
        return None
    from pytrace.codegen.compile import generate

    dbg: dict = {}
    artifact = generate(ctx, dbg)
    if "ir" in want:
        sys.stdout.write(dbg["ir"])
    if "asm" in want:
        sys.stdout.write(dbg["asm"])
    if use_cache and all(spec.cacheable for unit in ctx.units for spec in unit.specs):
        cache.store_artifact(key, artifact, ctx.diags.render())
    return artifact


def make_output(args):
    from pytrace.runtime.output.writer import Writer

    return Writer.open(args.format, args.output, quiet=args.quiet, buffering=args.buffering,
                       warnings=not args.no_warnings)


def write_verifier_logs(logs: dict[str, str]) -> None:
    """`-d verifier`: each program's verifier log on stderr."""
    for name, log in logs.items():
        sys.stderr.write(f"; verifier log for {name}\n{log}\n")


def verify_only(source: Source, artifact: Artifact, args) -> int:
    """Load every program through the verifier, attach nothing."""
    from pytrace.runtime import loader

    log_level = 2 if ("verifier" in args.debug or "all" in args.debug) else 0
    failures = 0
    for prog in artifact.programs:
        try:
            loaded = loader.load(artifact, {}, log_level, programs=[prog])
        except (loader.LoadError, loader.MapError) as e:
            failures += 1
            sys.stderr.write(f"{e.describe()}\n")
            if args.verbose and getattr(e.error, "log", ""):
                sys.stderr.write(e.error.log + "\n")
            continue
        if log_level:
            write_verifier_logs(loaded.logs)
        loaded.close()
        if not args.quiet:
            sys.stdout.write(f"{prog.probe}: verified ({len(prog.insns) // 8} instructions)\n")
    if not args.quiet:
        sys.stdout.write(f"{len(artifact.programs) - failures} of {len(artifact.programs)} programs "
                         f"passed the kernel's verifier\n")
    return 1 if failures else 0


def list_probes(source: Source | None, args) -> int:
    """`-l [PATTERN]`: probes the kernel offers, or those a program would attach."""
    from pytrace.lang import probes
    from pytrace.lang.probes.base import ProbeError
    from pytrace.lang.probes import uprobe

    uprobe.LISTING_DEBUGINFO[:] = args.debuginfo
    ensure_kernel_fs()
    if source is not None and (args.program is not None or source.name != "stdin"):
        from pytrace.lang.diagnostics import CompileError
        from pytrace.lang.passes import analyse

        try:
            ctx = analyse(source, Options(params=list(args.rest), pid_filter=args.pid,
                                          debuginfo=tuple(args.debuginfo)), until="missing_probes")
        except CompileError as e:
            e.diagnostics.emit(sys.stderr)
            return 1
        for unit in ctx.units:
            for spec in unit.specs:
                provider = probes.lookup(spec.provider) or unit.provider
                name = provider.listed_name(spec)
                if name is None:
                    continue
                details = provider.list_probes(name, True)[1:] if args.verbose else []
                sys.stdout.write("".join(line + "\n" for line in [name, *details]))
        return 0
    searches = [" ".join(s.split()) for s in args.rest[0].split(",")] if args.rest else ["*"]
    out = []
    for search in searches:  # bpftrace lists each of `-l 'A,B'` in turn
        try:
            out.extend(_list_search(search, args))
        except ProbeError as e:  # e.g. a wildcard naming too many files
            sys.stderr.write(f"ERROR: {e}\n" + "".join(f"HINT: {hint}\n" for hint in e.hints))
            return 1
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0


def _list_search(pattern: str, args) -> list[str]:
    from pytrace.lang import btf_listing, probes
    from pytrace.lang.kernel_view import host_kernel

    if btf_listing.is_type_search(pattern):
        btf = host_kernel().btf()
        return btf_listing.list_types(btf, pattern, args.verbose) if btf is not None else []
    if ":" not in pattern:
        pattern = "*:" + pattern if "*" not in pattern else pattern
    prefix, _, _rest = pattern.partition(":")
    provider = probes.lookup(prefix)
    if provider is not None:
        pattern = provider.name + ":" + _rest
    out = []
    for prov in probes.PROVIDERS:
        if prov.listable:  # each filters by the pattern (see ProbeProvider.list_probes)
            out.extend(prov.list_probes_in(pattern, args.verbose, args.pid))  # may raise ProbeError
    return out


def filter_probes(artifact: Artifact, pattern: str) -> Artifact | None:
    """--probe-filter: keep the event, test and bench probes whose name the
    regex matches (BEGIN, END and self:signal always stay); unmatched ones are
    never loaded. None when no probe is left."""
    import copy
    import re

    regex = re.compile(pattern)
    kept = [p for p in artifact.programs if p.when in ("BEGIN", "END", "SIGNAL") or regex.search(p.probe)]
    if not kept:
        return None
    filtered = copy.copy(artifact)
    filtered.programs = kept
    return filtered
