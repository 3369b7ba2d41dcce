"""The steps of a pytrace run that sit around its lifecycle (runtime/lifecycle.py):
compiling (with a cache of compiled artifacts), debug dumps, verify-only,
listing probes, and making sure the kernel filesystems are mounted."""

from __future__ import annotations

import os
import re
import sys

try:  # CPython's own SHA-256 (3.11: _sha256, 3.12: _sha2): hashlib would load OpenSSL, ~3 ms of every start
    from _sha256 import sha256
except ImportError:
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

from pytrace import __version__
from pytrace.codegen.artifact import Artifact
from pytrace.lang.options import UNSTABLE_MODES, Options
from pytrace.lang.source import Source

CACHE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pytrace")

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


_IMPORT_RE = re.compile(r'\bimport\s*"')


# 2: an entry's compile warnings are kept beside it (KEY.warnings), shown on each run.
CACHE_FORMAT = 2


def _cache_key(source: Source, options: Options) -> str:
    h = sha256()
    for part in (CACHE_FORMAT, __version__, os.uname().release, _boot_id(), source.name, source.text, repr(options.params),
                 repr(options.named_params),
                 options.max_strlen, options.max_map_keys, options.perf_rb_pages, options.max_probes, options.max_cat_bytes,
                 options.log_size, options.on_stack_limit,
                 options.include_files, options.helper_warnings, options.unsafe,
                 options.has_child, options.pid_filter, options.debuginfo, options.dummy_ts_map,
                 options.unstable_tseries, options.stack_mode, options.show_debug_info, options.cache_user_symbols,
                 _code_stamp()):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _boot_id() -> str:
    """Kernel addresses resolved at compile time (kaddr) change with every boot (KASLR)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _code_stamp() -> str:
    """Changes whenever pytrace's own compiler sources change (for development)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    latest = 0.0
    for sub in ("lang", "codegen", "grammar"):
        for dirpath, _dirs, files in os.walk(os.path.join(root, sub)):
            for f in files:
                if f.endswith((".py", ".lark")):
                    latest = max(latest, os.stat(os.path.join(dirpath, f)).st_mtime)
    return str(latest)


def compile_source(source: Source, options: Options, debug: list[str], warnings: bool = True) -> Artifact | None:
    """Source -> Artifact, reusing a cached artifact when nothing changed.

    Returns None when only `-d ast` / `-d types` was asked for."""
    want = set(debug)
    if "all" in want:
        want |= {"ast", "types", "ir", "asm", "verifier"}
    use_cache = not (want & {"ast", "types", "ir", "asm"}) and os.environ.get("PYTRACE_NO_CACHE") != "1"
    use_cache = use_cache and not _IMPORT_RE.search(source.text)  # imported files are not in the cache key
    key = _cache_key(source, options) if use_cache else ""
    path = os.path.join(CACHE_DIR, key + ".json")
    warnings_path = os.path.join(CACHE_DIR, key + ".warnings")  # the compile's warnings, shown on every run
    if use_cache and os.path.exists(path):
        try:
            with open(path) as f:
                artifact = Artifact.from_json(f.read())
            if warnings and os.path.exists(warnings_path):
                with open(warnings_path) as f:
                    sys.stderr.write(f.read())
                    sys.stderr.flush()
            return artifact
        except (OSError, ValueError, TypeError, KeyError):
            pass
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
        try:
            os.makedirs(CACHE_DIR, exist_ok=True)
            said = ctx.diags.render()
            if said:  # written first: an artifact in the cache always has its warnings beside it
                with open(f"{warnings_path}.{os.getpid()}", "w") as f:
                    f.write(said)
                os.replace(f"{warnings_path}.{os.getpid()}", warnings_path)
            elif os.path.exists(warnings_path):
                os.unlink(warnings_path)
            tmp = f"{path}.{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(artifact.to_json())
            os.replace(tmp, path)
        except OSError:
            pass
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
