"""Thin ctypes wrapper over perf_event_open(2), its ioctls and tracefs/sysfs.

Attaching a BPF program to a perf event is: open the event (tracepoint,
software, hardware, kprobe/uprobe PMU), then ``attach_bpf(fd, prog_fd)``
(PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE).  Closing the perf fd detaches
the program and drops the event's reference to it.
"""

import ctypes
import errno as _errno
import fcntl
import os

from . import kernel_consts as K
from .kernel_consts import PERF_FLAG_FD_CLOEXEC

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc["syscall"]          # own function object: own argtypes
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                     ctypes.c_int, ctypes.c_ulong]
_mount = _libc["mount"]
_mount.restype = ctypes.c_int
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                   ctypes.c_ulong, ctypes.c_void_p]

_u16, _u32, _u64, _s32 = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int32
_PMU_DIR = "/sys/bus/event_source/devices"


class PerfError(OSError):
    """A failed perf_event_open / perf ioctl / tracefs lookup, in plain words."""

    def __init__(self, errno: int, message: str):
        super().__init__(errno, message)

    def __str__(self):
        return self.strerror


class TracepointNotFound(PerfError, FileNotFoundError):
    """The tracepoint (or its tracefs directory) does not exist."""


# ---------------------------------------------------------------- perf_event_attr

class _SampleU(ctypes.Union):
    _fields_ = [("sample_period", _u64), ("sample_freq", _u64)]


class _WakeupU(ctypes.Union):
    _fields_ = [("wakeup_events", _u32), ("wakeup_watermark", _u32)]


class _Config1U(ctypes.Union):
    _fields_ = [("config1", _u64), ("bp_addr", _u64), ("kprobe_func", _u64),
                ("uprobe_path", _u64)]


class _Config2U(ctypes.Union):
    _fields_ = [("config2", _u64), ("bp_len", _u64), ("kprobe_addr", _u64),
                ("probe_offset", _u64)]


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr, PERF_ATTR_SIZE_VER8 (136 bytes)."""
    _anonymous_ = ("_sample", "_wakeup", "_config1", "_config2")
    _fields_ = [
        ("type", _u32), ("size", _u32), ("config", _u64),
        ("_sample", _SampleU),
        ("sample_type", _u64), ("read_format", _u64),
        # the u64 flag bitfield, least significant bit first (x86/arm64 little endian)
        ("disabled", _u64, 1), ("inherit", _u64, 1), ("pinned", _u64, 1),
        ("exclusive", _u64, 1), ("exclude_user", _u64, 1), ("exclude_kernel", _u64, 1),
        ("exclude_hv", _u64, 1), ("exclude_idle", _u64, 1), ("mmap", _u64, 1),
        ("comm", _u64, 1), ("freq", _u64, 1), ("inherit_stat", _u64, 1),
        ("enable_on_exec", _u64, 1), ("task", _u64, 1), ("watermark", _u64, 1),
        ("precise_ip", _u64, 2), ("mmap_data", _u64, 1), ("sample_id_all", _u64, 1),
        ("exclude_host", _u64, 1), ("exclude_guest", _u64, 1),
        ("exclude_callchain_kernel", _u64, 1), ("exclude_callchain_user", _u64, 1),
        ("mmap2", _u64, 1), ("comm_exec", _u64, 1), ("use_clockid", _u64, 1),
        ("context_switch", _u64, 1), ("write_backward", _u64, 1),
        ("namespaces", _u64, 1), ("ksymbol", _u64, 1), ("bpf_event", _u64, 1),
        ("aux_output", _u64, 1), ("cgroup", _u64, 1), ("text_poke", _u64, 1),
        ("build_id", _u64, 1), ("inherit_thread", _u64, 1), ("remove_on_exec", _u64, 1),
        ("sigtrap", _u64, 1), ("_reserved_1", _u64, 26),
        ("_wakeup", _WakeupU),
        ("bp_type", _u32),
        ("_config1", _Config1U),
        ("_config2", _Config2U),
        ("branch_sample_type", _u64), ("sample_regs_user", _u64),
        ("sample_stack_user", _u32), ("clockid", _s32), ("sample_regs_intr", _u64),
        ("aux_watermark", _u32), ("sample_max_stack", _u16), ("_reserved_2", _u16),
        ("aux_sample_size", _u32), ("aux_action", _u32), ("sig_data", _u64),
        ("config3", _u64),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.size = ctypes.sizeof(self)


assert ctypes.sizeof(PerfEventAttr) == K.PERF_ATTR_SIZE_VER8


# ---------------------------------------------------------------- opening events

def _describe(err: int, what: str) -> str:
    if err in (_errno.EACCES, _errno.EPERM):
        return (f"permission denied opening {what} (needs root, or lower "
                "/proc/sys/kernel/perf_event_paranoid)")
    if err == _errno.ENOENT:
        return f"{what} is not supported by this kernel or machine"
    if err in (_errno.EOPNOTSUPP, _errno.ENODEV):
        return f"{what} is not supported by this hardware or kernel configuration"
    if err == _errno.EMFILE:
        return f"too many open files while opening {what} (raise `ulimit -n`)"
    if err == _errno.ESRCH:
        return f"no such process for {what}"
    if err == _errno.E2BIG:
        return f"perf_event_attr is too big for this kernel ({what})"
    if err == _errno.EINVAL:
        return f"invalid attributes or cpu for {what}"
    return f"cannot open {what}: {os.strerror(err)}"


def perf_event_open(attr: PerfEventAttr, pid: int, cpu: int, group_fd: int = -1,
                    flags: int = PERF_FLAG_FD_CLOEXEC, *, what: str = "perf event") -> int:
    """perf_event_open(2); returns the event fd or raises PerfError."""
    if not attr.size:
        attr.size = ctypes.sizeof(attr)
    while True:
        fd = _syscall(K.NR_perf_event_open, ctypes.addressof(attr), pid, cpu,
                      group_fd, flags)
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            raise PerfError(err, _describe(err, what))


def open_tracepoint(tp_id: int, cpu: int = -1, pid: int = -1) -> int:
    """Open a tracepoint event for BPF attachment.

    One event is enough for a system-wide BPF attach: the program hangs off the
    tracepoint itself (trace_event_call->prog_array) and runs on every CPU for
    every task.  perf_event_open refuses pid == -1 with cpu == -1, so like
    libbpf we open it on cpu 0 in that case."""
    if pid == -1 and cpu == -1:
        cpu = 0
    attr = PerfEventAttr(type=K.PERF_TYPE_TRACEPOINT, config=tp_id,
                         sample_period=1, wakeup_events=1)
    return perf_event_open(attr, pid, cpu, what=f"tracepoint id {tp_id}")


def open_software(config: int, *, sample_period: int = 0, sample_freq: int = 0,
                  cpu: int, pid: int = -1) -> int:
    """A PERF_TYPE_SOFTWARE sampling event, opened disabled.  sample_freq sets
    attr.freq (profile:hz:N); sample_period is in events, i.e. ns for
    cpu-clock (interval:*).  attach_bpf() enables it."""
    attr = PerfEventAttr(type=K.PERF_TYPE_SOFTWARE, config=config, disabled=1,
                         inherit=1 if pid != -1 else 0)  # a process's new threads count too
    if sample_freq:
        attr.freq, attr.sample_freq = 1, sample_freq
    else:
        attr.sample_period = sample_period
    return perf_event_open(attr, pid, cpu, what=f"software event {config} on cpu {cpu}")


def open_hardware(config: int, sample_period: int, cpu: int, pid: int = -1) -> int:
    """A PERF_TYPE_HARDWARE sampling event, opened disabled."""
    attr = PerfEventAttr(type=K.PERF_TYPE_HARDWARE, config=config, disabled=1,
                         sample_period=sample_period, inherit=1 if pid != -1 else 0)
    return perf_event_open(attr, pid, cpu, what=f"hardware event {config} on cpu {cpu}")


def open_breakpoint(address: int, length: int, bp_type: int, *, pid: int = -1, cpu: int = -1) -> int:
    """A PERF_TYPE_BREAKPOINT event (a hardware watchpoint) that runs its
    program on every hit; with a pid it follows the task's new threads."""
    attr = PerfEventAttr(type=K.PERF_TYPE_BREAKPOINT, bp_type=bp_type, bp_addr=address,
                         bp_len=8 if bp_type & 4 else length, sample_period=1, disabled=1,
                         inherit=1 if pid != -1 else 0)
    what = f"watchpoint on {address:#x}" + (f" in pid {pid}" if pid != -1 else f" on cpu {cpu}")
    try:
        return perf_event_open(attr, pid, cpu, what=what)
    except PerfError as e:
        if e.errno == _errno.ENOSPC:
            raise PerfError(e.errno, f"cannot open {what}: no free hardware debug registers") from None
        raise


def pmu_available(name: str) -> bool:
    """True when the dynamic PMU (e.g. "kprobe", "uprobe") exists."""
    return os.path.exists(f"{_PMU_DIR}/{name}/type")


def _pmu_type(name: str) -> int:
    with open(f"{_PMU_DIR}/{name}/type") as f:
        return int(f.read())


def _pmu_format_bit(name: str, field: str) -> int | None:
    """First bit of a PMU format field, e.g. retprobe -> "config:0" -> 0."""
    try:
        with open(f"{_PMU_DIR}/{name}/format/{field}") as f:
            spec = f.read().strip()
    except OSError:
        return None
    return int(spec.partition(":")[2].split("-")[0])


def _dynamic_probe_attr(pmu: str, retprobe: bool, what: str, why_missing: str = "") -> PerfEventAttr:
    """perf_event_attr for the kprobe/uprobe PMU, with its retprobe bit set if asked."""
    if not pmu_available(pmu):
        raise PerfError(_errno.ENOENT, f"cannot open {what}: {pmu}s are not available "
                        f"on this kernel (no {pmu} PMU in {_PMU_DIR}{why_missing})")
    attr = PerfEventAttr(type=_pmu_type(pmu))
    if retprobe:
        bit = _pmu_format_bit(pmu, "retprobe")
        if bit is None:
            raise PerfError(_errno.ENOTSUP, f"cannot open {what}: {pmu[0]}ret{pmu[1:]}s are not "
                            f"supported by this kernel's {pmu} PMU")
        attr.config |= 1 << bit
    return attr


def open_kprobe(func: str, offset: int = 0, retprobe: bool = False, addr: int = 0) -> int:
    """A kprobe/kretprobe through the kprobe PMU: on func+offset, or on a raw
    kernel address when func is empty."""
    what = f"{'kretprobe' if retprobe else 'kprobe'} on {func or hex(addr)}"
    attr = _dynamic_probe_attr("kprobe", retprobe, what,
                               "; CONFIG_KPROBES/CONFIG_KPROBE_EVENTS is probably off")
    name_buf = ctypes.create_string_buffer(func.encode()) if func else None
    if name_buf is not None:
        attr.kprobe_func, attr.probe_offset = ctypes.addressof(name_buf), offset
    else:
        attr.kprobe_addr = addr
    return perf_event_open(attr, -1, 0, what=what)


def open_uprobe(path: str, offset: int, retprobe: bool = False, pid: int = -1,
                ref_ctr_offset: int = 0) -> int:
    """A uprobe/uretprobe through the uprobe PMU on path at file offset.
    pid == -1 traces every process (opened on cpu 0, like libbpf)."""
    what = f"{'uretprobe' if retprobe else 'uprobe'} on {path}:{offset:#x}"
    attr = _dynamic_probe_attr("uprobe", retprobe, what)
    if ref_ctr_offset:
        bit = _pmu_format_bit("uprobe", "ref_ctr_offset")
        if bit is None:
            raise PerfError(_errno.ENOTSUP, f"cannot open {what}: this kernel does not "
                            "support USDT semaphores (uprobe ref_ctr_offset)")
        attr.config |= ref_ctr_offset << bit
    path_buf = ctypes.create_string_buffer(os.fsencode(path))
    attr.uprobe_path, attr.probe_offset = ctypes.addressof(path_buf), offset
    return perf_event_open(attr, pid, 0 if pid == -1 else -1, what=what)


# ---------------------------------------------------------------- ioctls

def attach_bpf(perf_fd: int, prog_fd: int) -> None:
    """PERF_EVENT_IOC_SET_BPF, then PERF_EVENT_IOC_ENABLE."""
    try:
        fcntl.ioctl(perf_fd, K.PERF_EVENT_IOC_SET_BPF, prog_fd)
    except OSError as e:
        msg = {
            _errno.EEXIST: "the perf event already has a BPF program",
            _errno.EINVAL: "the BPF program type does not match the perf event "
                           "(e.g. a tracepoint program on a software event)",
            _errno.EPERM: "permission denied attaching the BPF program",
            _errno.EACCES: "permission denied attaching the BPF program",
        }.get(e.errno, f"cannot attach BPF program to perf event: {e.strerror}")
        raise PerfError(e.errno, msg) from None
    enable(perf_fd)


def enable(perf_fd: int) -> None:
    try:
        fcntl.ioctl(perf_fd, K.PERF_EVENT_IOC_ENABLE, 0)
    except OSError as e:
        raise PerfError(e.errno, f"cannot enable perf event: {e.strerror}") from None


# ---------------------------------------------------------------- tracefs

_tracefs = None
_TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def _try_mount(source: str, target: str, fstype: str) -> bool:
    if not os.path.isdir(target):
        return False
    return _mount(source.encode(), target.encode(), fstype.encode(), 0, None) == 0


def tracefs_path() -> str:
    """Root of tracefs (mounting tracefs, or debugfs, when needed)."""
    global _tracefs
    if _tracefs:
        return _tracefs
    for attempt in range(2):
        for path in _TRACEFS_CANDIDATES:
            if os.path.isdir(os.path.join(path, "events")):
                _tracefs = path
                return path
        if attempt == 0:
            if not _try_mount("nodev", "/sys/kernel/tracing", "tracefs"):
                _try_mount("nodev", "/sys/kernel/debug", "debugfs")
    raise PerfError(_errno.ENOENT, "tracefs is not mounted and could not be mounted "
                    "(tried /sys/kernel/tracing and /sys/kernel/debug/tracing)")


def tracepoint_id(category: str, event: str) -> int:
    """The perf config id of tracepoint category:event (events/<cat>/<ev>/id)."""
    path = os.path.join(tracefs_path(), "events", category, event, "id")
    try:
        with open(path) as f:
            return int(f.read())
    except FileNotFoundError:
        raise TracepointNotFound(_errno.ENOENT, f"tracepoint {category}:{event} does "
                                 f"not exist on this kernel (no {path})") from None
    except PermissionError:
        raise PerfError(_errno.EACCES, f"permission denied reading {path} "
                        "(tracing needs root)") from None


# ---------------------------------------------------------------- CPUs

def parse_cpu_list(text: str) -> list[int]:
    """Parse a sysfs CPU list such as "0-3,5,7-8"."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())
