"""The cache of compiled programs and of parsed command lines, in CACHE_DIR:

    KEY.artifact    a compiled program (marshal); KEY hashes all it was compiled from:
                    the source, the options, the kernel (release, boot id) and pytrace's own code
    KEY.warnings    that compile's warnings, shown again on every run
    argv-HASH.args  a command line's parsed and checked options (marshal), so that a repeated
                    command line starts without argparse (runtime/cli.py); HASH is of the argv
                    and of the command line's parser (cli.py)

marshal rather than JSON: reading it needs no import (json imports `re` and more, milliseconds of
a cached program's start). Any entry that cannot be read is ignored (compiled or parsed again).
"""

from __future__ import annotations

import marshal
import os
import sys

try:  # CPython's own SHA-256 (3.11: _sha256, 3.12: _sha2): hashlib would load OpenSSL, ~3 ms of every start
    from _sha256 import sha256
except ImportError:
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

from pytrace import __version__

CACHE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pytrace")

# 2: an entry's compile warnings are kept beside it (KEY.warnings), shown on each run.
# 3: artifacts and parsed command lines as marshal (its version is part of every key).
CACHE_FORMAT = 3
UNREADABLE = (OSError, ValueError, TypeError, KeyError, EOFError)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def enabled() -> bool:
    return os.environ.get("PYTRACE_NO_CACHE") != "1"


def _digest(parts) -> str:
    h = sha256()
    for part in (CACHE_FORMAT, marshal.version, __version__, *parts):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


# ------------------------------------------------------------ compiled programs
def key(source, options) -> str:
    """What a compiled program depends on (the source, options, kernel and compiler)."""
    return _digest((os.uname().release, _boot_id(), source.name, source.text, repr(options.params),
                    repr(options.named_params),
                    options.max_strlen, options.max_map_keys, options.perf_rb_pages, options.max_probes,
                    options.max_cat_bytes, options.log_size, options.on_stack_limit,
                    options.include_files, options.helper_warnings, options.unsafe,
                    options.has_child, options.pid_filter, options.debuginfo, options.dummy_ts_map,
                    options.unstable_tseries, options.stack_mode, options.show_debug_info,
                    options.cache_user_symbols, _code_stamp()))


def _boot_id() -> str:
    """Kernel addresses resolved at compile time (kaddr) change with every boot (KASLR)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            return f.read().strip().decode()
    except OSError:
        return ""


def _code_stamp() -> str:
    """Changes whenever pytrace's own compiler sources change (for development): the
    latest modification time of lang/, codegen/ and grammar/'s sources."""
    latest = 0.0
    dirs = [os.path.join(_ROOT, sub) for sub in ("lang", "codegen", "grammar")]
    while dirs:
        try:
            entries = list(os.scandir(dirs.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".py", ".lark")):
                latest = max(latest, entry.stat().st_mtime)
            elif entry.name != "__pycache__" and entry.is_dir(follow_symlinks=False):
                dirs.append(entry.path)
    return str(latest)


def load_artifact(key: str, warnings: bool):
    """The cached artifact of `key` (its compile warnings written to stderr), or None."""
    from pytrace.codegen.artifact import Artifact

    path = os.path.join(CACHE_DIR, key + ".artifact")
    try:
        with open(path, "rb") as f:
            artifact = Artifact.from_plain(marshal.loads(f.read()))
    except UNREADABLE:
        return None
    if warnings:
        try:
            with open(os.path.join(CACHE_DIR, key + ".warnings"), encoding="utf-8", errors="surrogateescape") as f:
                said = f.read()
        except OSError:
            said = ""
        if said:
            sys.stderr.write(said)
            sys.stderr.flush()
    return artifact


def store_artifact(key: str, artifact, warnings: str) -> None:
    """Cache a compiled artifact and the warnings its compile printed."""
    try:
        os.makedirs(CACHE_DIR, exist_ok=True)
        warnings_path = os.path.join(CACHE_DIR, key + ".warnings")
        if warnings:  # written first: an artifact in the cache always has its warnings beside it
            _write(warnings_path, warnings.encode(errors="surrogateescape"))
        elif os.path.exists(warnings_path):
            os.unlink(warnings_path)
        _write(os.path.join(CACHE_DIR, key + ".artifact"), marshal.dumps(artifact.to_plain()))
    except (OSError, ValueError):  # ValueError: a value marshal cannot write (then it is not cached)
        pass


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ------------------------------------------------------------ parsed command lines
def _argv_path(argv: list[str]) -> str:
    """Where a command line's parsed options are kept: its hash names argv and the parser's
    code (cli.py, and Python's argparse by Python's version)."""
    try:
        st = os.stat(os.path.join(_ROOT, "runtime", "cli.py"))
        parser = (st.st_mtime_ns, st.st_size)
    except OSError:
        parser = ()
    return os.path.join(CACHE_DIR, f"argv-{_digest((sys.hexversion, parser, argv))}.args")


def recall_args(argv: list[str]) -> dict | None:
    """The options cli parsed and checked for this very argv before, or None."""
    try:
        with open(_argv_path(argv), "rb") as f:
            recorded = marshal.loads(f.read())
    except UNREADABLE:
        return None
    if not isinstance(recorded, dict) or recorded.get("argv") != argv:
        return None
    return recorded.get("args")


def remember_args(argv: list[str], args: dict) -> None:
    """Keep what cli parsed and checked for argv (plain values only)."""
    try:
        os.makedirs(CACHE_DIR, exist_ok=True)
        _write(_argv_path(argv), marshal.dumps({"argv": list(argv), "args": args}))
    except (OSError, ValueError):  # ValueError: a value marshal cannot write
        pass
