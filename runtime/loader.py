"""Artifact -> kernel objects: create the maps, patch map references and
run-time constants into the instructions, load each program.

A program the verifier rejects becomes a LoadError naming its probe, with
the verifier's own last words; the whole log is kept for `-v`.
"""

from __future__ import annotations

import errno
import os
import struct

from pytrace.codegen.artifact import CONST_BASE, CONSTANTS, Artifact, MapSpec, ProgramSpec
from pytrace.runtime import bpf, progbtf
from pytrace.runtime import kernel_consts as K

PROG_TYPES = {
    "kprobe": K.BPF_PROG_TYPE_KPROBE,
    "uprobe_multi": K.BPF_PROG_TYPE_KPROBE,  # expected attach type: uprobe_multi.load_options()
    "tracepoint": K.BPF_PROG_TYPE_TRACEPOINT,
    "perf_event": K.BPF_PROG_TYPE_PERF_EVENT,
    "raw_tracepoint": K.BPF_PROG_TYPE_RAW_TRACEPOINT,
    "tracing": K.BPF_PROG_TYPE_TRACING,
}

MAP_TYPES = {
    "hash": K.BPF_MAP_TYPE_HASH,
    "array": K.BPF_MAP_TYPE_ARRAY,
    "percpu_hash": K.BPF_MAP_TYPE_PERCPU_HASH,
    "percpu_array": K.BPF_MAP_TYPE_PERCPU_ARRAY,
    "lru_hash": K.BPF_MAP_TYPE_LRU_HASH,
    "percpu_lru_hash": K.BPF_MAP_TYPE_LRU_PERCPU_HASH,
    "ringbuf": K.BPF_MAP_TYPE_RINGBUF,
}

LD_IMM64 = 0x18


class LoadError(Exception):
    def __init__(self, program: ProgramSpec, error: bpf.BPFError, log_size: int = 0) -> None:
        self.program = program
        self.error = error
        self.log_size = log_size  # the verifier log's fixed buffer (-v), 0: none or grown as needed
        super().__init__(self.describe())

    @property
    def reason(self) -> str:
        if self.program.prog_type == "tracing" and self.error.errno == 1 and not self.error.log and os.geteuid() == 0:
            return ("this kernel refuses BPF tracing programs (fentry/fexit): loading one fails with "
                    "EPERM before the verifier runs")
        if self.error.errno in (1, 13) and not self.error.log:
            return "the kernel refused to load it (permission denied: run as root)"
        if self.error.log:
            return "the kernel's verifier rejected it: " + bpf.verifier_error_line(self.error.log)
        return f"the kernel refused to load it ({self.error.strerror or self.error})"

    def log_trimmed(self) -> str:
        """bpftrace's message when -v's verifier log did not fit its log_size (ENOSPC), else ""."""
        if not self.log_size or self.error.errno != errno.ENOSPC:
            return ""
        import re  # (an error path: not imported at every start)

        name = re.sub(r"[^A-Za-z0-9_]", "_", self.program.probe) + "_1"
        return (f"ERROR: Error loading BPF program for {name}. Error code: -{errno.ENOSPC} "
                f"({os.strerror(errno.ENOSPC)}).\nKernel error log: \n{self.error.log}\n"
                "WARNING: Kernel log seems to be trimmed. This may be due to buffer not being big enough, try "
                "increasing the BPFTRACE_LOG_SIZE environment variable beyond the current value of "
                f"{self.log_size} bytes. Or, add the configuration `config = {{ log_size = N; }}` to the script.\n")

    def describe(self) -> str:
        where = f"{self.program.location}: " if self.program.location else ""
        return f"{where}ERROR: probe {self.program.probe}: {self.reason}"


class MapError(Exception):
    """The kernel refused to create a map (too big, no memory, not permitted)."""

    def __init__(self, spec: MapSpec, error: bpf.BPFError) -> None:
        self.spec, self.error = spec, error
        super().__init__(self.describe())

    def describe(self) -> str:
        s = self.spec
        what = "the event ring buffer" if s.name == "__ringbuf" else (
            "scratch space" if s.name.startswith("__") else f"map {s.name}")
        return (f"ERROR: the kernel refused to create {what} ({s.max_entries} entries of "
                f"{s.key_size}-byte keys and {s.value_size}-byte values): {self.error.strerror or self.error}")


def patch(insns: bytes, map_fds: list[int], constants: dict[str, int], btf_ids: list[int] | None = None) -> bytes:
    """Replace map indices with fds, constant slots with their values, and
    kernel variable indices with their BTF ids."""
    out = bytearray(insns)
    i = 0
    while i + 16 <= len(out):
        code, regs, _off, imm = struct.unpack_from("<BBhi", out, i)
        if code == LD_IMM64 and (regs >> 4) == K.BPF_PSEUDO_BTF_ID:
            struct.pack_into("<i", out, i + 4, (btf_ids or [])[imm])
            i += 16
            continue
        if code == LD_IMM64 and (regs >> 4) == K.BPF_PSEUDO_MAP_FD:
            if imm >= CONST_BASE:
                value = constants.get(CONSTANTS[imm - CONST_BASE], 0) & (2**64 - 1)
                struct.pack_into("<BBhI", out, i, code, regs & 0x0F, 0, value & 0xFFFFFFFF)
                struct.pack_into("<I", out, i + 12, value >> 32)
            else:
                struct.pack_into("<BBhi", out, i, code, regs, _off, map_fds[imm])
            i += 16
            continue
        i += 8
    return bytes(out)


class LoadedProgram:
    def __init__(self, spec: ProgramSpec, fd: int) -> None:
        self.spec = spec
        self.fd = fd


class Loaded:
    """What one load made (plain classes, not dataclasses: see codegen/artifact.py)."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self.map_fds: list[int] = []
        self.programs: list[LoadedProgram] = []
        self.logs: dict[str, str] = {}

    def map_fd(self, name: str) -> int:
        spec = self.artifact.map_by_name(name)
        assert spec is not None, name
        return self.map_fds[spec.index]

    def close(self) -> None:
        for p in self.programs:
            _close(p.fd)
        self.programs.clear()
        for fd in self.map_fds:
            _close(fd)
        self.map_fds.clear()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


# The expected attach type of a tracing program, by the attach spec's "attach_type".
TRACING_ATTACH_TYPES = {"fentry": K.BPF_TRACE_FENTRY, "fexit": K.BPF_TRACE_FEXIT, "iter": K.BPF_TRACE_ITER,
                        "raw_tp": K.BPF_TRACE_RAW_TP}


def attach_target(prog: ProgramSpec) -> dict:
    """What BPF_PROG_LOAD needs to know about a tracing program's target (fentry/fexit:
    the kernel function; iter: `bpf_iter_TYPE`; tp_btf: `btf_trace_EVENT`): resolved here, so the artifact stays
    independent of the kernel's BTF ids."""
    if prog.prog_type == "uprobe_multi":
        from pytrace.runtime import uprobe_multi

        return uprobe_multi.load_options()
    if prog.prog_type != "tracing":
        return {}
    from pytrace.lang.btf import BTF

    spec = prog.attach[0]
    func = spec.get("btf_func") or spec["func"]
    btf_id = BTF.kernel().find(func, spec.get("btf_kind", "func"))  # tp_btf: the btf_trace_EVENT typedef
    if btf_id is None:
        raise LoadError(prog, bpf.BPFError("BPF_PROG_LOAD", 2, f"no BTF for kernel function {func}"))
    kind = spec.get("attach_type") or ("fexit" if spec.get("retprobe") else "fentry")
    return {"expected_attach_type": TRACING_ATTACH_TYPES[kind], "attach_btf_id": btf_id}


def create_map(spec: MapSpec) -> int:
    """Hash maps are preallocated, as bpftrace's are: a map created with
    BPF_F_NO_PREALLOC allocates each new element at update time, and from a
    perf event's (hardirq/NMI) context that allocation often fails, so new keys
    are silently lost (interval, profile and hardware probes)."""
    return bpf.map_create(MAP_TYPES[spec.map_type], spec.key_size, spec.value_size, spec.max_entries,
                          0, name=spec.name.lstrip("@_") or "anon")


def kernel_var_ids(artifact: Artifact) -> list[int]:
    """The BTF ids of the kernel variables the programs reference (percpu_kaddr()).
    The compiler checked they exist; a missing one (0) makes the verifier refuse the program."""
    if not artifact.kernel_vars:
        return []
    from pytrace.lang.btf import BTF

    return [BTF.kernel().find(name, "var") or 0 for name in artifact.kernel_vars]


def fill_map(fd: int, spec: MapSpec) -> None:
    """An array's initial values (the string tables of strerror()...)."""
    for i, text in enumerate(spec.initial):
        value = text.encode("utf-8", "surrogateescape")[: spec.value_size - 1].ljust(spec.value_size, b"\0")
        bpf.map_update(fd, struct.pack("<I", i), value)


def load(artifact: Artifact, constants: dict[str, int], log_level: int = 0,
         programs: list[ProgramSpec] | None = None) -> Loaded:
    """Create maps and load programs; on any failure close what was made.
    log_level 1 (-v) loads with a verifier log of the program's log_size, as bpftrace
    does (a log that overflows it fails the load); 2 (-d verifier) with one that grows."""
    loaded = Loaded(artifact)
    btf_ids = kernel_var_ids(artifact)
    try:
        for spec in artifact.maps:
            try:
                loaded.map_fds.append(create_map(spec))
                fill_map(loaded.map_fds[-1], spec)
            except bpf.BPFError as e:
                raise MapError(spec, e) from None
        for prog in artifact.programs if programs is None else programs:
            insns = patch(prog.insns, loaded.map_fds, constants, btf_ids)
            btf = progbtf.func_info(insns)  # programs with callbacks carry function BTF
            extra: dict = {}
            try:
                if btf is not None:
                    extra = {"btf_fd": bpf.btf_load(btf[0]), "func_info": btf[1]}
                if log_level:
                    fd, log = bpf.prog_load_with_log(PROG_TYPES[prog.prog_type], insns, name=prog.name[:15],
                                                     log_level=log_level, **attach_target(prog), **extra,
                                                     log_size=artifact.log_size if log_level == 1 else 0)
                    loaded.logs[prog.name] = log
                else:
                    fd = bpf.prog_load(PROG_TYPES[prog.prog_type], insns, name=prog.name[:15],
                                       **attach_target(prog), **extra)
            except bpf.BPFError as e:
                raise LoadError(prog, e, artifact.log_size if log_level == 1 else 0) from None
            finally:
                if extra:
                    _close(extra["btf_fd"])  # the program keeps its own reference
            loaded.programs.append(LoadedProgram(prog, fd))
    except BaseException:
        loaded.close()
        raise
    return loaded
