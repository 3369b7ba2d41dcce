"""`--info`: what this machine and pytrace support, in bpftrace's layout.

Every "yes" is something pytrace really does here: a kernel feature counts
only when pytrace uses it (kprobe_multi and kprobe_session are never used, so
they are "no"; uprobe_multi links attach wildcard uprobes where the kernel has
them), and a probe type only when its provider can
attach it on this kernel. The upstream test engine reads this text to decide
REQUIRES_FEATURE; the "pytrace" section states, in the words that engine
looks for, the features current bpftrace no longer lists by those names."""

from __future__ import annotations

import os

from pytrace import __version__

INSTRUCTION_LIMIT = 1_000_000  # the kernel's limit for a privileged loader


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _table(rows: list[tuple[str, str]]) -> str:
    return "".join(f"  {name}: {value}\n" for name, value in rows)


def _attachable(provider_name: str) -> bool:
    from pytrace.lang import probes

    provider = probes.lookup(provider_name)
    return provider is not None and provider.unavailable_reason() is None


def _dwarf() -> bool:
    from pytrace.lang import dwarf

    return dwarf.supported()


def _runs(program: str) -> bool:
    """Whether pytrace loads and attaches this program here (a --dry-run):
    for probe types a kernel may refuse although their provider is there."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "pytrace", "--dry-run", "-q", "-e", program]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _uprobe_multi() -> bool:
    from pytrace.runtime import uprobe_multi

    return uprobe_multi.supported()


def _has_builtin(name: str) -> bool:
    from pytrace.lang import builtins

    return builtins.variable(name) is not None or builtins.function(name) is not None


def _llvm_version() -> str:
    try:
        from llvmlite import binding

        return ".".join(str(n) for n in binding.llvm_version_info)
    except Exception:  # noqa: BLE001 - no LLVM: say so, --info still works
        return "none"


def report() -> str:
    uts = os.uname()
    btf_dir = "/sys/kernel/btf"
    btf_files = os.listdir(btf_dir) if os.path.isdir(btf_dir) else []
    fentry = _attachable("fentry") and _runs("fentry:vfs_read { }")
    sections = [
        ("System", [("OS", f"{uts.sysname} {uts.release} {uts.version}"), ("Arch", uts.machine)]),
        ("Build", [("version", f"v{__version__} (pytrace)"), ("LLVM", _llvm_version()), ("bfd", "no"),
                   ("libdw (DWARF support)", _yes(_dwarf())),
                   ("libsystemd (systemd notify support)", "no"),
                   ("blazesym (advanced symbolization)", "no"), ("dwunwind (DWARF stack unwinding)", "no")]),
        ("Kernel helpers", [("dpath", _yes(fentry and _has_builtin("path"))),
                            ("get_tai_ns", _yes(_has_builtin("nsecs"))),
                            ("get_func_ip", _yes(_has_builtin("func"))),
                            ("lookup_percpu_elem", "yes"), ("loop", "yes")]),
        ("Kernel features", [("Instruction limit", str(INSTRUCTION_LIMIT)), ("btf", _yes("vmlinux" in btf_files)),
                             ("module btf", _yes(any(f != "vmlinux" for f in btf_files)))]),
        ("Probe types", [("kprobe", _yes(_attachable("kprobe"))), ("fentry", _yes(fentry)),
                         ("kprobe_multi", "no"), ("uprobe_multi", _yes(_uprobe_multi())), ("kprobe_session", "no"),
                         ("iter", _yes(_attachable("iter") and _runs("iter:task { }")))]),
        ("pytrace", [("Loop support", "yes"), ("probe_read_kernel", "yes"),
                     ("send_signal", _yes(_has_builtin("signal"))),
                     ("bcc library path resolution", "yes"),  # libraries by name (lang/binaries.py)
                     ("get_ktime_ns", _yes(_has_builtin("nsecs")))]),
    ]
    out = []
    for title, rows in sections:
        out.append(f"{title}\n{_table(rows)}\n")
    return "".join(out)
