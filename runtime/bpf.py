"""Thin ctypes wrapper over the bpf(2) system call.

Every command goes through one funnel, ``_bpf(cmd, attr)``, which raises
``BPFError`` on failure.  Each command has its own ctypes Structure that
mirrors the matching anonymous struct of ``union bpf_attr`` (same field order,
natural alignment).  The kernel copies ``size`` bytes and zero-fills the rest
of its union, so passing ``sizeof(<variant struct>)`` is exactly equivalent to
passing a zeroed full-size union with that variant filled in; fields we never
set stay zero, which is what CHECK_ATTR() requires.
"""

import ctypes
import errno as _errno
import os

from . import kernel_consts as K
from .perf import parse_cpu_list

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc["syscall"]          # own function object: own argtypes
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_ulong]

_u32, _u64 = ctypes.c_uint32, ctypes.c_uint64
_NAME = ctypes.c_char * K.BPF_OBJ_NAME_LEN


# ---------------------------------------------------------------- errors

class BPFError(OSError):
    """A failed bpf(2) command.  ``.op`` is the command name (e.g.
    "BPF_PROG_LOAD"), ``.errno`` the errno, ``.log`` the verifier log ("" if
    none)."""

    def __init__(self, op: str, errno: int, message: str = "", log: str = ""):
        super().__init__(errno, message or _describe(errno))
        self.op = op
        self.log = log or ""

    def __str__(self):
        reason = self.strerror
        if self.op == "BPF_PROG_LOAD" and self.log:
            reason = "the verifier rejected the program"
        text = f"{self.op} failed: {reason} ({_errno_name(self.errno)})"
        line = verifier_error_line(self.log)
        if line:
            text += f": {line}"
        return text


def verifier_error_line(log: str) -> str:
    """The verifier's complaint: the last log line before its statistics."""
    lines = [ln.strip() for ln in (log or "").splitlines() if ln.strip()]
    while lines and lines[-1].startswith(("processed ", "verification time",
                                          "stack depth", "mark_precise")):
        lines.pop()
    return lines[-1] if lines else ""


def _errno_name(err: int) -> str:
    if err == K.ENOTSUPP:
        return "ENOTSUPP"
    return _errno.errorcode.get(err, f"errno {err}")


def _describe(err: int) -> str:
    if err in (_errno.EPERM, _errno.EACCES):
        return ("permission denied (needs root / CAP_BPF+CAP_PERFMON; as root it means "
                "the kernel, lockdown or an LSM forbids it)")
    if err == K.ENOTSUPP or err == _errno.EOPNOTSUPP:
        return "operation not supported by this kernel"
    if err == _errno.E2BIG:
        return "argument too big for this kernel (attribute, key/value or program size)"
    if err == _errno.EINVAL:
        return "invalid argument (this kernel may not support the requested type or flags)"
    return os.strerror(err)


# ---------------------------------------------------------------- syscall funnel

def _bpf_errno(cmd: int, attr: ctypes.Structure) -> tuple[int, int]:
    """bpf(cmd, &attr, sizeof(attr)) as (result, 0) or (-1, errno); EINTR is retried."""
    while True:
        ret = _syscall(K.NR_bpf, int(cmd), ctypes.addressof(attr), ctypes.sizeof(attr))
        if ret >= 0:
            return ret, 0
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            return -1, err


def _bpf(cmd: int, attr: ctypes.Structure) -> int:
    """Issue bpf(cmd, &attr, sizeof(attr)); return the result or raise BPFError."""
    ret, err = _bpf_errno(cmd, attr)
    if err:
        raise BPFError(K.name_of(K.BpfCmd, cmd), err)
    return ret


def _bpf_found(cmd: int, attr: ctypes.Structure) -> bool:
    """Like _bpf(), but ENOENT ("no such key/entry") returns False (no exception made:
    walking and clearing maps meet it all the time)."""
    ret, err = _bpf_errno(cmd, attr)
    if err == _errno.ENOENT:
        return False
    if err:
        raise BPFError(K.name_of(K.BpfCmd, cmd), err)
    return True


_memlock_done = False


def _bump_memlock() -> None:
    """Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK (later ones to the memory cgroup)."""
    global _memlock_done
    if not _memlock_done:
        _memlock_done = True
        if _kernel_version_code() >= (5 << 16) + (11 << 8):
            return
        try:
            import resource

            inf = resource.RLIM_INFINITY
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (inf, inf))
        except (ValueError, OSError):
            pass


def _obj_name(name: str) -> bytes:
    """Kernel object names: at most 15 chars of [A-Za-z0-9_.]."""
    kept = "".join(c if c in _OBJ_NAME_CHARS else "_" for c in (name or "")[:K.BPF_OBJ_NAME_LEN - 1])
    return kept.encode()


_OBJ_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


def _buf(data: bytes):
    return ctypes.create_string_buffer(bytes(data), max(len(data), 1))


def _ptr(buf) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


# ---------------------------------------------------------------- attr variants

class MapCreateAttr(ctypes.Structure):
    _fields_ = [("map_type", _u32), ("key_size", _u32), ("value_size", _u32),
                ("max_entries", _u32), ("map_flags", _u32), ("inner_map_fd", _u32),
                ("numa_node", _u32), ("map_name", _NAME), ("map_ifindex", _u32),
                ("btf_fd", _u32), ("btf_key_type_id", _u32),
                ("btf_value_type_id", _u32), ("btf_vmlinux_value_type_id", _u32),
                ("map_extra", _u64)]


class MapElemAttr(ctypes.Structure):
    _fields_ = [("map_fd", _u32), ("key", _u64), ("value", _u64),  # value == next_key
                ("flags", _u64)]


class MapBatchAttr(ctypes.Structure):
    _fields_ = [("in_batch", _u64), ("out_batch", _u64), ("keys", _u64),
                ("values", _u64), ("count", _u32), ("map_fd", _u32),
                ("elem_flags", _u64), ("flags", _u64)]


class ProgLoadAttr(ctypes.Structure):
    _fields_ = [("prog_type", _u32), ("insn_cnt", _u32), ("insns", _u64),
                ("license", _u64), ("log_level", _u32), ("log_size", _u32),
                ("log_buf", _u64), ("kern_version", _u32), ("prog_flags", _u32),
                ("prog_name", _NAME), ("prog_ifindex", _u32),
                ("expected_attach_type", _u32), ("prog_btf_fd", _u32),
                ("func_info_rec_size", _u32), ("func_info", _u64),
                ("func_info_cnt", _u32), ("line_info_rec_size", _u32),
                ("line_info", _u64), ("line_info_cnt", _u32),
                ("attach_btf_id", _u32), ("attach_prog_fd", _u32),  # == attach_btf_obj_fd
                ("core_relo_cnt", _u32), ("fd_array", _u64), ("core_relos", _u64),
                ("core_relo_rec_size", _u32),
                ("log_true_size", _u32)]   # 6.4+: written back by the kernel


class TestRunAttr(ctypes.Structure):
    _fields_ = [("prog_fd", _u32), ("retval", _u32), ("data_size_in", _u32),
                ("data_size_out", _u32), ("data_in", _u64), ("data_out", _u64),
                ("repeat", _u32), ("duration", _u32), ("ctx_size_in", _u32),
                ("ctx_size_out", _u32), ("ctx_in", _u64), ("ctx_out", _u64),
                ("flags", _u32), ("cpu", _u32), ("batch_size", _u32)]


class GetIdAttr(ctypes.Structure):
    _fields_ = [("start_id", _u32), ("next_id", _u32), ("open_flags", _u32)]


class InfoAttr(ctypes.Structure):
    _fields_ = [("bpf_fd", _u32), ("info_len", _u32), ("info", _u64)]


class RawTracepointAttr(ctypes.Structure):
    _fields_ = [("name", _u64), ("prog_fd", _u32), ("_pad", _u32), ("cookie", _u64)]


class LinkCreateAttr(ctypes.Structure):
    # The trailing union is laid out as plain u64 slots:
    #   target_btf_id -> low u32 of extra0;  perf_event.bpf_cookie -> extra0
    #   tracing: {target_btf_id -> low u32 of extra0, cookie -> extra1}
    _fields_ = [("prog_fd", _u32), ("target_fd", _u32), ("attach_type", _u32),
                ("flags", _u32), ("extra0", _u64), ("extra1", _u64),
                ("extra2", _u64), ("extra3", _u64), ("extra4", _u64)]


class ProgInfo(ctypes.Structure):   # struct bpf_prog_info (prefix; the kernel
    _fields_ = [("type", _u32), ("id", _u32),          # copies min(its, ours))
                ("tag", ctypes.c_ubyte * 8),
                ("jited_prog_len", _u32), ("xlated_prog_len", _u32),
                ("jited_prog_insns", _u64), ("xlated_prog_insns", _u64),
                ("load_time", _u64), ("created_by_uid", _u32), ("nr_map_ids", _u32),
                ("map_ids", _u64), ("name", _NAME), ("ifindex", _u32),
                ("gpl_compatible", _u32), ("netns_dev", _u64), ("netns_ino", _u64),
                ("nr_jited_ksyms", _u32), ("nr_jited_func_lens", _u32),
                ("jited_ksyms", _u64), ("jited_func_lens", _u64),
                ("btf_id", _u32), ("func_info_rec_size", _u32), ("func_info", _u64),
                ("nr_func_info", _u32), ("nr_line_info", _u32), ("line_info", _u64),
                ("jited_line_info", _u64), ("nr_jited_line_info", _u32),
                ("line_info_rec_size", _u32), ("jited_line_info_rec_size", _u32),
                ("nr_prog_tags", _u32), ("prog_tags", _u64),
                ("run_time_ns", _u64), ("run_cnt", _u64)]  # counted while stats are enabled


class MapInfo(ctypes.Structure):    # struct bpf_map_info (prefix)
    _fields_ = [("type", _u32), ("id", _u32), ("key_size", _u32),
                ("value_size", _u32), ("max_entries", _u32), ("map_flags", _u32),
                ("name", _NAME), ("ifindex", _u32), ("btf_vmlinux_value_type_id", _u32),
                ("netns_dev", _u64), ("netns_ino", _u64), ("btf_id", _u32),
                ("btf_key_type_id", _u32), ("btf_value_type_id", _u32)]


class LinkInfo(ctypes.Structure):   # struct bpf_link_info (prefix)
    _fields_ = [("type", _u32), ("id", _u32), ("prog_id", _u32), ("_pad", _u32)]


# ---------------------------------------------------------------- maps

def map_create(map_type: int, key_size: int, value_size: int, max_entries: int,
               flags: int = 0, name: str = "") -> int:
    _bump_memlock()
    attr = MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size,
                         max_entries=max_entries, map_flags=flags,
                         map_name=_obj_name(name))
    return _bpf(K.BPF_MAP_CREATE, attr)


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    kbuf = _buf(key)
    vbuf = ctypes.create_string_buffer(max(value_size, 1))
    attr = MapElemAttr(map_fd=fd, key=_ptr(kbuf), value=_ptr(vbuf))
    return vbuf.raw[:value_size] if _bpf_found(K.BPF_MAP_LOOKUP_ELEM, attr) else None


def map_update(fd: int, key: bytes, value: bytes, flags: int = K.BPF_ANY) -> None:
    kbuf, vbuf = _buf(key), _buf(value)
    _bpf(K.BPF_MAP_UPDATE_ELEM,
         MapElemAttr(map_fd=fd, key=_ptr(kbuf), value=_ptr(vbuf), flags=flags))


def map_delete(fd: int, key: bytes) -> bool:
    kbuf = _buf(key)
    return _bpf_found(K.BPF_MAP_DELETE_ELEM, MapElemAttr(map_fd=fd, key=_ptr(kbuf)))


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """Key after ``key`` (the first key when ``key`` is None); None at the end."""
    kbuf = _buf(key) if key is not None else None
    nbuf = ctypes.create_string_buffer(max(key_size, 1))
    attr = MapElemAttr(map_fd=fd, key=_ptr(kbuf), value=_ptr(nbuf))
    return nbuf.raw[:key_size] if _bpf_found(K.BPF_MAP_GET_NEXT_KEY, attr) else None


_BATCH_UNSUPPORTED = (_errno.EINVAL, _errno.EOPNOTSUPP, K.ENOTSUPP, _errno.ENOSYS)


def _map_items_batch(fd: int, key_size: int, value_size: int) -> list:
    count = 256
    out: list = []
    token_size = max(key_size, 8)      # hash maps use a u32 bucket, arrays the key
    in_batch = None
    while True:
        out_batch = ctypes.create_string_buffer(token_size)
        keys = ctypes.create_string_buffer(max(key_size * count, 1))
        values = ctypes.create_string_buffer(max(value_size * count, 1))
        attr = MapBatchAttr(in_batch=_ptr(in_batch), out_batch=_ptr(out_batch),
                            keys=_ptr(keys), values=_ptr(values),
                            count=count, map_fd=fd)
        _, err = _bpf_errno(K.BPF_MAP_LOOKUP_BATCH, attr)
        if err == _errno.ENOSPC and attr.count == 0:
            count *= 4                  # one hash bucket holds more than `count`
            continue
        if err and err != _errno.ENOENT:
            raise BPFError("BPF_MAP_LOOKUP_BATCH", err)
        done = err == _errno.ENOENT     # the last batch; attr.count is still valid
        kraw, vraw = keys.raw, values.raw
        for i in range(attr.count):
            out.append((kraw[i * key_size:(i + 1) * key_size],
                        vraw[i * value_size:(i + 1) * value_size]))
        if done:
            return out
        in_batch = out_batch


def _map_items_iter(fd: int, key_size: int, value_size: int) -> list:
    out, seen = [], set()
    key = None
    # get_next_key restarts from the first key when `key` was deleted under us;
    # `seen` turns that into a harmless re-walk, the budget bounds it.
    budget = 1 << 24
    while budget:
        budget -= 1
        key = map_get_next_key(fd, key, key_size)
        if key is None:
            break
        if key in seen:
            continue
        seen.add(key)
        value = map_lookup(fd, key, value_size)
        if value is not None:            # deleted concurrently
            out.append((key, value))
    return out


def map_items(fd: int, key_size: int, value_size: int) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs.  Per-CPU maps: value_size must be
    round_up(value_size, 8) * possible_cpus()."""
    try:
        return _map_items_batch(fd, key_size, value_size)
    except BPFError as e:
        if e.errno not in _BATCH_UNSUPPORTED:
            raise
    return _map_items_iter(fd, key_size, value_size)


def map_clear(fd: int, key_size: int, value_size: int, array: bool) -> None:
    """Delete every key.  Array maps cannot delete: their values are zeroed.
    value_size as for map_items (per-CPU maps: every CPU's value)."""
    for _ in range(1 if array else 4):  # a few passes in case programs keep inserting
        keys = [k for k, _ in map_items(fd, key_size, value_size)]
        if array:
            map_set_all(fd, keys, key_size, bytes(value_size))
            return
        if not keys:
            return
        _map_delete_keys(fd, keys, key_size)


def map_set_all(fd: int, keys: list[bytes], key_size: int, value: bytes) -> None:
    """Give every one of these keys the same value: one BPF_MAP_UPDATE_BATCH (5.6+),
    else one update per key."""
    if not keys:
        return
    kbuf = ctypes.create_string_buffer(b"".join(keys), max(key_size * len(keys), 1))
    vbuf = ctypes.create_string_buffer(value * len(keys), max(len(value) * len(keys), 1))
    attr = MapBatchAttr(keys=ctypes.addressof(kbuf), values=ctypes.addressof(vbuf), count=len(keys), map_fd=fd)
    _, err = _bpf_errno(K.BPF_MAP_UPDATE_BATCH, attr)
    if not err:
        return
    if err not in _BATCH_UNSUPPORTED and err != _errno.E2BIG:
        raise BPFError("BPF_MAP_UPDATE_BATCH", err)
    for k in keys[attr.count:]:
        map_update(fd, k, value)


def _map_delete_keys(fd: int, keys: list[bytes], key_size: int) -> None:
    """Delete these keys: one BPF_MAP_DELETE_BATCH (5.6+), else one by one. Keys
    deleted meanwhile by a program are no error."""
    buf = ctypes.create_string_buffer(b"".join(keys), max(key_size * len(keys), 1))
    done = 0
    while done < len(keys):
        attr = MapBatchAttr(keys=ctypes.addressof(buf) + done * key_size, count=len(keys) - done, map_fd=fd)
        _, err = _bpf_errno(K.BPF_MAP_DELETE_BATCH, attr)
        if not err:
            return
        if err == _errno.ENOENT:        # attr.count were deleted; the next was already gone
            done += attr.count + 1
            continue
        if err in _BATCH_UNSUPPORTED:
            for k in keys[done:]:
                map_delete(fd, k)
            return
        raise BPFError("BPF_MAP_DELETE_BATCH", err)


# ---------------------------------------------------------------- programs

# 16 MiB - 1: kernels < 5.2 cap log_size at UINT_MAX >> 8; newer ones at UINT_MAX >> 2.
_LOG_SIZE = (16 << 20) - 1
_LOG_SIZE_MAX = (1 << 30) - 1


def _prog_load_once(prog_type, insns, license, name, log_level, log_size,
                    expected_attach_type, attach_btf_id, kern_version, btf_fd=0, func_info=b""):
    insn_buf, lic_buf = _buf(insns), ctypes.create_string_buffer(license.encode())
    func_buf = _buf(func_info) if func_info else None
    log_buf = ctypes.create_string_buffer(log_size) if log_level else None
    attr = ProgLoadAttr(prog_type=prog_type, insn_cnt=len(insns) // 8,
                        insns=_ptr(insn_buf), license=_ptr(lic_buf),
                        log_level=log_level, log_size=log_size if log_level else 0,
                        log_buf=_ptr(log_buf), kern_version=kern_version,
                        prog_name=_obj_name(name),
                        expected_attach_type=expected_attach_type,
                        attach_btf_id=attach_btf_id)
    if func_info:  # (insn_off, type_id) pairs: a program with callbacks needs them
        attr.prog_btf_fd, attr.func_info_rec_size = btf_fd, 8
        attr.func_info, attr.func_info_cnt = _ptr(func_buf), len(func_info) // 8
    attempts = 5                    # the verifier may ask to retry (EAGAIN)
    while True:
        try:
            fd = _bpf(K.BPF_PROG_LOAD, attr)
            return fd, _log_text(log_buf)
        except BPFError as e:
            attempts -= 1
            if e.errno == _errno.EAGAIN and attempts:
                continue
            e.log = _log_text(log_buf)
            e.log_true_size = attr.log_true_size    # 6.4+: size the log needed
            raise


def _log_text(log_buf) -> str:
    if log_buf is None:
        return ""
    return log_buf.value.decode("utf-8", "replace")


def prog_load_with_log(prog_type: int, insns: bytes, license: str = "GPL", *,
                       name: str = "", log_level: int = 0, expected_attach_type: int = 0,
                       attach_btf_id: int = 0, kern_version: int = 0, btf_fd: int = 0,
                       func_info: bytes = b"", log_size: int = 0) -> tuple[int, str]:
    """Load a program; return (fd, verifier log).  The log is "" unless
    log_level > 0.  On failure, retry once with a verifier log (growing the
    buffer on ENOSPC) so that the raised BPFError carries it in ``.log``."""
    if len(insns) % 8:
        raise ValueError("instruction bytes must be a multiple of 8")
    _bump_memlock()

    def attempt(level, size):
        return _prog_load_once(prog_type, insns, license, name, level, size,
                               expected_attach_type, attach_btf_id, kern_version, btf_fd, func_info)

    if log_level and log_size > 0:  # the size given (bpftrace's log_size): once, ENOSPC if the log overflows it
        return attempt(log_level, min(log_size, _LOG_SIZE_MAX))
    try:
        return attempt(log_level, _LOG_SIZE)
    except BPFError as e:
        first = e
    level, size, last = log_level or K.BPF_LOG_LEVEL1, _LOG_SIZE, first
    if not log_level:
        try:
            return attempt(level, size)[0], ""
        except BPFError as e:
            last = e
    # ENOSPC here means "the log did not fit": grow it and try again
    while last.errno == _errno.ENOSPC and size < _LOG_SIZE_MAX:
        size = min(max(size * 4, getattr(last, "log_true_size", 0) + 1), _LOG_SIZE_MAX)
        try:
            fd, log = attempt(level, size)
            return fd, (log if log_level else "")
        except BPFError as e:
            last = e
    errno = first.errno if (not log_level and last.errno == _errno.ENOSPC) else last.errno
    raise BPFError("BPF_PROG_LOAD", errno, log=last.log)


def prog_load(prog_type: int, insns: bytes, license: str = "GPL", *, name: str = "",
              log_level: int = 0, expected_attach_type: int = 0, attach_btf_id: int = 0,
              kern_version: int = 0, btf_fd: int = 0, func_info: bytes = b"") -> int:
    fd, _ = prog_load_with_log(prog_type, insns, license, name=name, log_level=log_level,
                               expected_attach_type=expected_attach_type,
                               attach_btf_id=attach_btf_id, kern_version=kern_version,
                               btf_fd=btf_fd, func_info=func_info)
    return fd


class BtfLoadAttr(ctypes.Structure):
    _fields_ = [("btf", _u64), ("btf_log_buf", _u64), ("btf_size", _u32),
                ("btf_log_size", _u32), ("btf_log_level", _u32)]


def btf_load(data: bytes) -> int:
    """BPF_BTF_LOAD: a program's own BTF (e.g. the functions of a program with
    callbacks); returns its fd."""
    buf = _buf(data)
    log = ctypes.create_string_buffer(1 << 16)
    attr = BtfLoadAttr(btf=_ptr(buf), btf_size=len(data), btf_log_buf=_ptr(log), btf_log_size=1 << 16,
                       btf_log_level=1)
    try:
        return _bpf(K.BPF_BTF_LOAD, attr)
    except BPFError as e:
        e.log = _log_text(log)
        raise


def prog_test_run(prog_fd: int, ctx_in: bytes = b"", *, flags: int = 0, cpu: int = 0,
                  repeat: int = 1, data_in: bytes = b"") -> int:
    """BPF_PROG_TEST_RUN; returns the program's return value.

    Raw tracepoint programs (bpf_prog_test_run_raw_tp) reject data_in/out,
    ctx_out, repeat != 0 and cpu != 0 without BPF_F_TEST_RUN_ON_CPU, and need
    ctx_size_in <= 12 * 8.  ``repeat == 1`` is therefore sent as 0 (which every
    other program type also reads as "run once")."""
    ctx_buf = _buf(ctx_in) if ctx_in else None
    data_buf = _buf(data_in) if data_in else None
    attr = TestRunAttr(prog_fd=prog_fd, repeat=repeat if repeat > 1 else 0,
                       ctx_size_in=len(ctx_in), ctx_in=_ptr(ctx_buf),
                       data_size_in=len(data_in), data_in=_ptr(data_buf),
                       flags=flags, cpu=cpu)
    _bpf(K.BPF_PROG_TEST_RUN, attr)
    return attr.retval


_probe_cache: dict = {}


def probe_prog_type(prog_type: int, *, expected_attach_type: int = 0,
                    attach_btf_id: int = 0) -> bool:
    """True when this kernel loads a trivial ``r0 = 0; exit`` of that type.
    BTF-attached types (TRACING, LSM, EXT, ...) always need an attach_btf_id
    (and expected_attach_type) to load, so pass them to probe those."""
    key = (prog_type, expected_attach_type, attach_btf_id)
    if key not in _probe_cache:
        insns = bytes([0xb7, 0, 0, 0, 0, 0, 0, 0,       # mov64 r0, 0
                       0x95, 0, 0, 0, 0, 0, 0, 0])      # exit
        _bump_memlock()
        try:
            fd, _ = _prog_load_once(prog_type, insns, "GPL", "", 0, 0,
                                    expected_attach_type, attach_btf_id,
                                    _kernel_version_code())
            os.close(fd)
            _probe_cache[key] = True
        except BPFError:
            _probe_cache[key] = False
    return _probe_cache[key]


def _kernel_version_code() -> int:
    """KERNEL_VERSION(a, b, c) of the running kernel's release ("6.1.0-18-amd64"), 0 if unreadable."""
    numbers = []
    for part in os.uname().release.split(".")[:3]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) < len(part):
            break
    if len(numbers) < 2:
        return 0
    a, b, c = (numbers + [0])[:3]
    return (a << 16) + (b << 8) + min(c, 255)


# ---------------------------------------------------------------- attach

def raw_tracepoint_open(name: str | None, prog_fd: int) -> int:
    """BPF_RAW_TRACEPOINT_OPEN; name None for BTF-typed (tp_btf/fentry) programs."""
    name_buf = ctypes.create_string_buffer(name.encode()) if name else None
    return _bpf(K.BPF_RAW_TRACEPOINT_OPEN,
                RawTracepointAttr(name=_ptr(name_buf), prog_fd=prog_fd))


def link_create(prog_fd: int, target_fd: int, attach_type: int, flags: int = 0,
                **extra) -> int:
    """BPF_LINK_CREATE.  extra: bpf_cookie= (perf_event links),
    target_btf_id= and cookie= (tracing links), iter_info= (iterator links)."""
    attr = LinkCreateAttr(prog_fd=prog_fd, target_fd=target_fd,
                          attach_type=attach_type, flags=flags)
    for key, value in extra.items():
        if key in ("bpf_cookie", "target_btf_id"):
            attr.extra0 = value
        elif key == "cookie":
            attr.extra1 = value
        elif key == "iter_info":  # bytes: a union bpf_iter_link_info
            info_buf = _buf(value)
            attr.extra0, attr.extra1 = _ptr(info_buf), len(value)
        else:
            raise TypeError(f"link_create: unsupported option {key!r}")
    return _bpf(K.BPF_LINK_CREATE, attr)


class UprobeMultiLinkAttr(ctypes.Structure):
    # link_create with its union as link_create.uprobe_multi (kernel 6.6)
    _fields_ = [("prog_fd", _u32), ("target_fd", _u32), ("attach_type", _u32), ("flags", _u32),
                ("path", _u64), ("offsets", _u64), ("ref_ctr_offsets", _u64), ("cookies", _u64),
                ("cnt", _u32), ("multi_flags", _u32), ("pid", _u32), ("_pad", _u32)]


def link_create_uprobe_multi(prog_fd: int, path: str, offsets: list[int], flags: int = 0,
                             pid: int = 0, cookies: list[int] | None = None) -> int:
    """BPF_LINK_CREATE of a uprobe_multi link: the program on every file offset of
    `path` (flags: BPF_F_UPROBE_MULTI_RETURN for return probes; pid: only that process)."""
    path_buf = ctypes.create_string_buffer(os.fsencode(path))
    offs = (_u64 * max(len(offsets), 1))(*offsets)
    cks = (_u64 * len(cookies))(*cookies) if cookies else None
    attr = UprobeMultiLinkAttr(prog_fd=prog_fd, attach_type=K.BPF_TRACE_UPROBE_MULTI, path=_ptr(path_buf),
                               offsets=_ptr(offs), cookies=_ptr(cks), cnt=len(offsets),
                               multi_flags=flags, pid=pid)
    return _bpf(K.BPF_LINK_CREATE, attr)


class IterCreateAttr(ctypes.Structure):
    _fields_ = [("link_fd", _u32), ("flags", _u32)]


def iter_create(link_fd: int) -> int:
    """BPF_ITER_CREATE: a new read-only fd whose reads run an iterator link's program."""
    return _bpf(K.BPF_ITER_CREATE, IterCreateAttr(link_fd=link_fd))


class ObjPinAttr(ctypes.Structure):
    _fields_ = [("pathname", _u64), ("bpf_fd", _u32), ("file_flags", _u32)]


def obj_pin(fd: int, path: str) -> None:
    """BPF_OBJ_PIN: the object (a link...) stays alive as a file in a BPF file system."""
    path_buf = ctypes.create_string_buffer(os.fsencode(path))
    _bpf(K.BPF_OBJ_PIN, ObjPinAttr(pathname=_ptr(path_buf), bpf_fd=fd))


class EnableStatsAttr(ctypes.Structure):
    _fields_ = [("type", _u32)]


def enable_stats() -> int:
    """BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): while the returned fd is open the
    kernel counts every program's runs (prog info run_cnt / run_time_ns)."""
    return _bpf(K.BPF_ENABLE_STATS, EnableStatsAttr(type=0))


# ---------------------------------------------------------------- introspection

def _fd_kind(fd: int) -> str:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""
    return {"anon_inode:bpf-prog": "prog", "anon_inode:bpf-map": "map",
            "anon_inode:bpf_link": "link"}.get(target, "")


def obj_get_info_by_fd(fd: int) -> dict:
    """Info about a prog, map or link fd, as a dict with at least kind, type, id."""
    kind = _fd_kind(fd)
    if not kind:
        raise BPFError("BPF_OBJ_GET_INFO_BY_FD", _errno.EINVAL,
                       f"fd {fd} is not a BPF program, map or link")
    info = {"prog": ProgInfo, "map": MapInfo, "link": LinkInfo}[kind]()
    _bpf(K.BPF_OBJ_GET_INFO_BY_FD, InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info),
                                            info=ctypes.addressof(info)))
    out = {"kind": kind}
    for field, *_ in info._fields_:
        if field.startswith("_"):
            continue
        value = getattr(info, field)
        if field == "name":
            value = value.decode(errors="replace")
        elif field == "tag":
            value = bytes(value).hex()
        out[field] = value
    return out


def _next_ids(cmd: int) -> list[int]:
    ids, cur = [], 0
    while True:
        attr = GetIdAttr(start_id=cur)
        if not _bpf_found(cmd, attr):
            return ids
        cur = attr.next_id
        ids.append(cur)


def prog_ids() -> list[int]:
    """Ids of every BPF program loaded in the system."""
    return _next_ids(K.BPF_PROG_GET_NEXT_ID)


def map_ids() -> list[int]:
    """Ids of every BPF map in the system."""
    return _next_ids(K.BPF_MAP_GET_NEXT_ID)


_possible = None


def possible_cpus() -> int:
    """Number of possible CPUs: the per-CPU value count of percpu maps."""
    global _possible
    if _possible is None:
        with open("/sys/devices/system/cpu/possible") as f:
            _possible = len(parse_cpu_list(f.read()))
    return _possible
