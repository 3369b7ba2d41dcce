"""Compiled programs as files: `pytrace --emit FILE PROG` writes one, `pytrace FILE`
runs it, on a machine with no compiler (lark and llvmlite are imported only
to compile, so a runtime-only install runs these files).

A file is one header line, then the artifact's JSON:

    #pytrace-artifact 1 {"kernel": {...}, "options": {...}}

`pytrace --aot FILE PROG` writes the same file as an executable, behind a
`#!` line that runs it with this pytrace (as bpftrace's --aot writes a
program that runs by itself): `FILE -- --opt=1` runs it with program options.

The header says what the program was compiled against. Struct field offsets
(BTF) and tracepoint record layouts are compiled in, so the kernel build
must be the same one: its release and its GNU build id (/sys/kernel/notes)
must match, or the file is refused with both named. kaddr() addresses are
compiled in too, and change at each boot (KASLR): a program using kaddr()
also records the boot id. Positional parameters and -p are compiled in,
so they are recorded and must match as well. Program options (`-- --name=value`,
read by getopt()) are compiled in as constants: a file run with other ones than
it was compiled with is compiled again from the source it carries, where a
compiler is installed.
"""

from __future__ import annotations

import json
import os
import struct
import sys

from pytrace.codegen.artifact import Artifact
from pytrace.lang.source import Source

MAGIC = b"#pytrace-artifact"
FILE_VERSION = 1
NOTES = "/sys/kernel/notes"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
NT_GNU_BUILD_ID = 3


class ArtifactFileError(Exception):
    """The file cannot be run here; the message says why, for the user."""


class OptionsDiffer(ArtifactFileError):
    """The file was compiled with other program options than this run's: compile
    its `source` again (the message says why, where no compiler is installed)."""

    def __init__(self, message: str, source: Source) -> None:
        super().__init__(message)
        self.source = source


def _without_shebang(data: bytes) -> bytes:
    """An --aot file's artifact: the bytes after its `#!` line."""
    return data.partition(b"\n")[2] if data.startswith(b"#!") else data


def is_artifact(data: bytes) -> bool:
    return _without_shebang(data).startswith(MAGIC)


def interpreter_line() -> bytes:
    """The `#!` line of an --aot file: this Python running this pytrace."""
    return b"#!/usr/bin/env -S " + os.fsencode(sys.executable) + b" -m pytrace\n"


def kernel_build_id(notes: str = NOTES) -> str:
    """The running kernel's GNU build id (hex), from its ELF notes; "" if unreadable."""
    try:
        with open(notes, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    at = 0
    while at + 12 <= len(data):
        namesz, descsz, kind = struct.unpack_from("<III", data, at)
        name_at = at + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        if kind == NT_GNU_BUILD_ID and data[name_at:name_at + namesz] == b"GNU\0":
            return data[desc_at:desc_at + descsz].hex()
        at = desc_at + (descsz + 3) // 4 * 4
    return ""


def _boot_id() -> str:
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def this_kernel(with_boot: bool) -> dict:
    stamp = {"release": os.uname().release, "build_id": kernel_build_id()}
    if with_boot:
        stamp["boot_id"] = _boot_id()
    return stamp


def _uses_kernel_addresses(ctx) -> bool:
    from pytrace.lang import ast
    from pytrace.lang.visitor import walk

    return any(isinstance(n, ast.Call) and n.name == "kaddr" for n in walk(ctx.program))


def emit(path: str, source, options, executable: bool = False) -> None:
    """Compile `source` for this kernel and write it to `path` (raises CompileError);
    `executable` (--aot): a file that runs itself."""
    from pytrace.codegen.compile import generate
    from pytrace.lang.passes import analyse

    ctx = analyse(source, options)
    ctx.diags.emit(sys.stderr)  # warnings
    artifact = generate(ctx)
    header = {"kernel": this_kernel(_uses_kernel_addresses(ctx)),
              "options": {"params": list(options.params), "pid": options.pid_filter,
                          "has_child": options.has_child, "unsafe": options.unsafe,
                          "named_params": list(options.named_params)},
              "source": {"name": source.name, "text": source.text}}  # for messages naming a probe
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        if executable:
            f.write(interpreter_line())
            os.fchmod(f.fileno(), 0o755)
        f.write(MAGIC + b" %d " % FILE_VERSION + json.dumps(header).encode() + b"\n")
        f.write(artifact.to_json().encode())
    os.replace(tmp, path)


def _describe(stamp: dict) -> str:
    build = stamp.get("build_id") or "unknown"
    return f"{stamp.get('release', '?')} (build id {build[:16]})"


def load(name: str, data: bytes, *, params: list[str], pid: int | None,
         kernel: dict | None = None, named_params: list[str] | None = None) -> tuple[Artifact, Source]:
    """The artifact in a file's bytes, checked against this kernel and the run's
    options, and the program's source (for messages). OptionsDiffer: compiled
    with other program options."""
    first, _, body = _without_shebang(data).partition(b"\n")
    try:
        _magic, version, header_text = first.decode().split(" ", 2)
        header = json.loads(header_text)
    except ValueError:
        raise ArtifactFileError(f"{name}: not a pytrace artifact (bad header)") from None
    if version != str(FILE_VERSION):
        raise ArtifactFileError(f"{name}: artifact file version {version}, this pytrace reads version "
                                f"{FILE_VERSION}: compile it again with --emit")
    made_for = header.get("kernel", {})
    here = kernel if kernel is not None else this_kernel("boot_id" in made_for)
    if (made_for.get("release"), made_for.get("build_id")) != (here["release"], here["build_id"]):
        raise ArtifactFileError(
            f"{name} was compiled for kernel {_describe(made_for)}, but this kernel is {_describe(here)}: "
            f"struct field offsets and tracepoint formats may differ, so it is not run. "
            f"Compile it again on this kernel with --emit.")
    if "boot_id" in made_for and made_for["boot_id"] != here.get("boot_id"):
        raise ArtifactFileError(f"{name} uses kaddr(), whose kernel addresses change at each boot; "
                                f"it was compiled before this boot: compile it again with --emit.")
    opts = header.get("options", {})
    if params and params != opts.get("params"):
        raise ArtifactFileError(f"{name} was compiled with positional parameters {opts.get('params')}; "
                                f"they are part of the program: compile it again with --emit to change them.")
    if pid != opts.get("pid"):
        compiled = f"-p {opts['pid']}" if opts.get("pid") else "no -p"
        raise ArtifactFileError(f"{name} was compiled with {compiled}; the -p filter is part of the program: "
                                f"run it with the same -p or compile it again with --emit.")
    recorded = header.get("source", {})
    source = Source(recorded.get("name", name), recorded.get("text", ""))
    if list(named_params or []) != opts.get("named_params", []):
        raise OptionsDiffer(f"{name} was compiled with program options {opts.get('named_params', [])}; "
                            f"they are part of the program, and this pytrace has no compiler to compile it "
                            f"again with {list(named_params or [])}", source)
    try:
        artifact = Artifact.from_json(body.decode())
    except (ValueError, TypeError, KeyError) as e:
        raise ArtifactFileError(f"{name}: damaged pytrace artifact ({e})") from None
    return artifact, source
