"""Real-kernel tests of the bpf/perf/ringbuf ctypes layer (root only)."""

import errno
import os
import select
import struct
import subprocess
import time

import pytest

from pytrace.runtime import bpf, perf

pytestmark = pytest.mark.kernel
from pytrace.runtime import kernel_consts as K
from pytrace.runtime.bpf import BPFError
from pytrace.runtime.perf import PerfError
from pytrace.runtime.ringbuf import RingBuffer


# ---------------------------------------------------------------- tiny assembler

def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def mov64_imm(dst, imm):        return insn(0xb7, dst, imm=imm)
def mov64_reg(dst, src):        return insn(0xbf, dst, src)
def add64_imm(dst, imm):        return insn(0x07, dst, imm=imm)
def rsh64_imm(dst, imm):        return insn(0x77, dst, imm=imm)
def st_mem_w(dst, off, imm):    return insn(0x62, dst, off=off, imm=imm)
def st_mem_dw(dst, off, imm):   return insn(0x7a, dst, off=off, imm=imm)
def stx_mem_dw(dst, src, off):  return insn(0x7b, dst, src, off)
def ldx_mem_dw(dst, src, off):  return insn(0x79, dst, src, off)
def atomic_add_dw(dst, src, off): return insn(0xdb, dst, src, off, imm=0x00)  # BPF_ADD
def jne_imm(dst, imm, off):     return insn(0x55, dst, off=off, imm=imm)
def jeq_imm(dst, imm, off):     return insn(0x15, dst, off=off, imm=imm)
def call(helper):               return insn(0x85, imm=helper)
def exit_():                    return insn(0x95)


def ld_imm64(dst, value, src=0):
    return (insn(0x18, dst, src, imm=value & 0xFFFFFFFF)
            + insn(0, imm=(value >> 32) & 0xFFFFFFFF))


def ld_map_fd(dst, fd):
    return ld_imm64(dst, fd, src=K.BPF_PSEUDO_MAP_FD)


def n_insns(*parts):
    return sum(len(p) for p in parts) // 8


FUNC_map_lookup_elem = 1
FUNC_get_current_pid_tgid = 14
FUNC_ringbuf_output = 130
FUNC_ringbuf_reserve = 131
FUNC_ringbuf_discard = 133


def counter_prog(map_fd, pid=None):
    """array[0] += 1 (atomically), only for `pid` when given."""
    filt = b""
    body = (st_mem_w(10, -4, 0) + mov64_reg(2, 10) + add64_imm(2, -4)
            + ld_map_fd(1, map_fd) + call(FUNC_map_lookup_elem))
    tail_inc = mov64_imm(1, 1) + atomic_add_dw(0, 1, 0)
    body += jeq_imm(0, 0, n_insns(tail_inc)) + tail_inc
    if pid is not None:
        filt = call(FUNC_get_current_pid_tgid) + rsh64_imm(0, 32)
        filt += jne_imm(0, pid, n_insns(body))
    return filt + body + mov64_imm(0, 0) + exit_()


# ---------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def no_fd_leaks():
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = {fd: os.readlink(f"/proc/self/fd/{fd}")
              for fd in set(os.listdir("/proc/self/fd")) - before
              if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not leaked, f"fds leaked: {leaked}"


def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)


def wait_gone(ids_fn, obj_ids, timeout=3.0):
    """Object ids are released when the last reference goes; perf teardown
    may defer that a little."""
    deadline = time.monotonic() + timeout
    while True:
        alive = set(obj_ids) & set(ids_fn())
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def assert_prog_gone(prog_id):
    assert not wait_gone(bpf.prog_ids, [prog_id]), f"prog {prog_id} leaked"
    r = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id)],
                       capture_output=True, text=True)
    assert r.returncode != 0, r.stdout


def prog_id(fd):
    return bpf.obj_get_info_by_fd(fd)["id"]


# ---------------------------------------------------------------- 1. maps

def test_hash_map_roundtrip():
    fd = bpf.map_create(K.BPF_MAP_TYPE_HASH, 4, 8, 64, name="test hash/with-bad:chars")
    try:
        info = bpf.obj_get_info_by_fd(fd)
        assert info["kind"] == "map" and info["type"] == K.BPF_MAP_TYPE_HASH
        assert info["name"] == "test_hash_with_"          # sanitized, 15 chars
        assert (info["key_size"], info["value_size"], info["max_entries"]) == (4, 8, 64)

        assert bpf.map_lookup(fd, u32(1), 8) is None
        assert bpf.map_get_next_key(fd, None, 4) is None
        assert bpf.map_items(fd, 4, 8) == []
        for k in range(10):
            bpf.map_update(fd, u32(k), u64(k * 100))
        assert bpf.map_lookup(fd, u32(7), 8) == u64(700)
        with pytest.raises(BPFError) as ei:
            bpf.map_update(fd, u32(7), u64(1), K.BPF_NOEXIST)
        assert ei.value.errno == errno.EEXIST and ei.value.op == "BPF_MAP_UPDATE_ELEM"
        assert "BPF_MAP_UPDATE_ELEM" in str(ei.value)

        keys, key = [], None
        while (key := bpf.map_get_next_key(fd, key, 4)) is not None:
            keys.append(key)
        assert sorted(keys) == [u32(k) for k in range(10)]

        expected = sorted((u32(k), u64(k * 100)) for k in range(10))
        assert sorted(bpf.map_items(fd, 4, 8)) == expected
        assert sorted(bpf._map_items_iter(fd, 4, 8)) == expected

        assert bpf.map_delete(fd, u32(3)) is True
        assert bpf.map_delete(fd, u32(3)) is False
        assert len(bpf.map_items(fd, 4, 8)) == 9
        bpf.map_clear(fd, 4, 8, array=False)
        assert bpf.map_items(fd, 4, 8) == []
    finally:
        os.close(fd)


def test_batch_delete_skips_keys_already_gone_and_set_all_sets_every_key():
    fd = bpf.map_create(K.BPF_MAP_TYPE_HASH, 4, 8, 64)
    try:
        for k in range(10):
            bpf.map_update(fd, u32(k), u64(k))
        bpf.map_set_all(fd, [u32(k) for k in range(10)], 4, u64(7))
        assert sorted(bpf.map_items(fd, 4, 8)) == [(u32(k), u64(7)) for k in range(10)]
        bpf.map_delete(fd, u32(4))          # as a program would, between the walk and the delete
        bpf._map_delete_keys(fd, [u32(k) for k in range(10)], 4)
        assert bpf.map_items(fd, 4, 8) == []
        for k in range(3):
            bpf.map_update(fd, u32(k), u64(k))
        bpf.map_clear(fd, 4, 8, array=False)
        assert bpf.map_items(fd, 4, 8) == []
    finally:
        os.close(fd)


def test_hash_map_items_many_entries():
    # more than one lookup batch (256) worth of entries
    fd = bpf.map_create(K.BPF_MAP_TYPE_HASH, 8, 4, 4096)
    try:
        for k in range(1000):
            bpf.map_update(fd, u64(k), u32(k ^ 0x5a5a))
        items = bpf.map_items(fd, 8, 4)
        assert sorted(items) == sorted((u64(k), u32(k ^ 0x5a5a)) for k in range(1000))
        bpf.map_clear(fd, 8, 4, array=False)
        assert bpf.map_get_next_key(fd, None, 8) is None
    finally:
        os.close(fd)


def test_percpu_hash_values_per_cpu():
    ncpus = bpf.possible_cpus()
    assert ncpus == len(perf.parse_cpu_list(open("/sys/devices/system/cpu/possible").read()))
    vsize = 8 * ncpus                         # round_up(8, 8) * ncpus
    fd = bpf.map_create(K.BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 16, name="pcpu")
    try:
        value = b"".join(u64(1000 + c) for c in range(ncpus))
        bpf.map_update(fd, u32(5), value)
        got = bpf.map_lookup(fd, u32(5), vsize)
        assert [struct.unpack_from("<Q", got, 8 * c)[0] for c in range(ncpus)] == \
            [1000 + c for c in range(ncpus)]
        bpf.map_update(fd, u32(6), bytes(vsize))
        assert sorted(bpf.map_items(fd, 4, vsize)) == [(u32(5), value), (u32(6), bytes(vsize))]
        assert bpf.map_get_next_key(fd, None, 4) in (u32(5), u32(6))
        assert bpf.map_delete(fd, u32(5))
        assert bpf.map_lookup(fd, u32(5), vsize) is None
    finally:
        os.close(fd)


def test_array_map():
    fd = bpf.map_create(K.BPF_MAP_TYPE_ARRAY, 4, 8, 4, name="arr")
    try:
        assert bpf.map_lookup(fd, u32(0), 8) == bytes(8)
        assert bpf.map_lookup(fd, u32(4), 8) is None            # out of range: ENOENT
        bpf.map_update(fd, u32(2), u64(42))
        assert bpf.map_get_next_key(fd, None, 4) == u32(0)
        assert bpf.map_get_next_key(fd, u32(2), 4) == u32(3)
        assert bpf.map_get_next_key(fd, u32(3), 4) is None
        items = bpf.map_items(fd, 4, 8)
        assert items == [(u32(i), u64(42 if i == 2 else 0)) for i in range(4)]
        assert bpf._map_items_iter(fd, 4, 8) == items
        with pytest.raises(BPFError) as ei:                     # arrays can't delete
            bpf.map_delete(fd, u32(2))
        assert ei.value.errno == errno.EINVAL
        bpf.map_clear(fd, 4, 8, array=True)                     # zeroes instead
        assert bpf.map_lookup(fd, u32(2), 8) == bytes(8)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- 2. tracepoint

def test_tracepoint_counts_getppid_exactly():
    map_fd = bpf.map_create(K.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_TRACEPOINT, counter_prog(map_fd, os.getpid()))
    pid_of_prog = prog_id(prog_fd)
    perf_fd = perf.open_tracepoint(perf.tracepoint_id("syscalls", "sys_enter_getppid"))
    try:
        perf.attach_bpf(perf_fd, prog_fd)
        for _ in range(1000):
            os.getppid()
    finally:
        os.close(perf_fd)
        os.close(prog_fd)
    for _ in range(5):
        os.getppid()                                   # detached: not counted
    assert bpf.map_lookup(map_fd, u32(0), 8) == u64(1000)
    map_id = bpf.obj_get_info_by_fd(map_fd)["id"]
    os.close(map_fd)
    assert_prog_gone(pid_of_prog)
    assert not wait_gone(bpf.map_ids, [map_id]), "map leaked"


def test_tracepoint_missing():
    with pytest.raises(PerfError) as ei:
        perf.tracepoint_id("syscalls", "sys_enter_no_such_call")
    assert isinstance(ei.value, FileNotFoundError)
    assert "syscalls:sys_enter_no_such_call" in str(ei.value)


# ---------------------------------------------------------------- 3. ringbuf

MAGIC = 0x1122334455667788


def ringbuf_prog(rb_fd):
    """Writes {ctx arg0, counter} for counter 1..3, plus one discarded record."""
    def output(counter):
        return (st_mem_dw(10, -8, counter)
                + ld_map_fd(1, rb_fd) + mov64_reg(2, 10) + add64_imm(2, -16)
                + mov64_imm(3, 16) + mov64_imm(4, 0) + call(FUNC_ringbuf_output))
    discard = (ld_map_fd(1, rb_fd) + mov64_imm(2, 8) + mov64_imm(3, 0)
               + call(FUNC_ringbuf_reserve))
    after = mov64_reg(1, 0) + mov64_imm(2, 0) + call(FUNC_ringbuf_discard)
    discard += jeq_imm(0, 0, n_insns(after)) + after
    return (mov64_reg(6, 1) + ldx_mem_dw(7, 6, 0) + stx_mem_dw(10, 7, -16)
            + output(1) + discard + output(2) + output(3)
            + mov64_imm(0, 7) + exit_())


def test_ringbuf_records_from_raw_tracepoint_test_run():
    size = 4096 * 4
    rb_fd = bpf.map_create(K.BPF_MAP_TYPE_RINGBUF, 0, 0, size, name="rb")
    prog_fd = -1
    rb = None
    try:
        prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_RAW_TRACEPOINT, ringbuf_prog(rb_fd),
                                name="rb_writer")
        rb = RingBuffer(rb_fd, size)
        got = []
        assert rb.poll(0, got.append) == 0 and got == []
        ret = bpf.prog_test_run(prog_fd, u64(MAGIC))
        assert ret == 7
        assert rb.consume(got.append) == 3
        assert [bytes(r) for r in got] == [u64(MAGIC) + u64(i) for i in (1, 2, 3)]
        assert rb.consume(got.append) == 0

        # a raising callback still consumes its record; the rest stay queued
        def explode(rec):
            raise RuntimeError("boom")
        bpf.prog_test_run(prog_fd, u64(5))
        with pytest.raises(RuntimeError):
            rb.consume(explode)
        rest = []
        assert rb.consume(rest.append) == 2
        assert rest == [u64(5) + u64(2), u64(5) + u64(3)]

        t0 = time.monotonic()
        assert rb.poll(50, got.append) == 0                 # nothing: waits, then 0
        assert time.monotonic() - t0 >= 0.04

        # poll() wakes up through epoll; wrap around the 16 KiB data area a few times
        seen = []
        for i in range(400):
            assert bpf.prog_test_run(prog_fd, u64(i), flags=K.BPF_F_TEST_RUN_ON_CPU,
                                     cpu=i % len(perf.online_cpus())) == 7
            n = rb.poll(1000, seen.append)
            assert n == 3
        assert seen[-3:] == [u64(399) + u64(i) for i in (1, 2, 3)]
        assert len(seen) == 1200
        r, _, _ = select.select([rb.fileno()], [], [], 0)
        assert r == []
    finally:
        if rb is not None:
            rb.close()
            rb.close()
        for fd in (prog_fd, rb_fd):
            if fd >= 0:
                os.close(fd)


def test_ringbuf_size_must_be_power_of_two_pages():
    with pytest.raises(ValueError):
        RingBuffer(-1, 4096 * 3)


def test_prog_test_run_refuses_repeat_for_raw_tp():
    prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_RAW_TRACEPOINT, mov64_imm(0, 3) + exit_())
    try:
        assert bpf.prog_test_run(prog_fd) == 3
        with pytest.raises(BPFError) as ei:
            bpf.prog_test_run(prog_fd, repeat=5)
        assert ei.value.op == "BPF_PROG_TEST_RUN" and ei.value.errno == errno.EINVAL
    finally:
        os.close(prog_fd)


def test_raw_tracepoint_open_attaches():
    map_fd = bpf.map_create(K.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_RAW_TRACEPOINT, counter_prog(map_fd, os.getpid()))
    try:
        link_fd = bpf.raw_tracepoint_open("sys_enter", prog_fd)
        try:
            info = bpf.obj_get_info_by_fd(link_fd)
            assert info["kind"] == "link" and info["prog_id"] == prog_id(prog_fd)
            for _ in range(100):
                os.getppid()
        finally:
            os.close(link_fd)
        count = struct.unpack("<Q", bpf.map_lookup(map_fd, u32(0), 8))[0]
        assert count >= 100
    finally:
        os.close(prog_fd)
        os.close(map_fd)


# ---------------------------------------------------------------- 4. verifier log

def test_invalid_program_error_carries_verifier_log():
    with pytest.raises(BPFError) as ei:
        bpf.prog_load(K.BPF_PROG_TYPE_TRACEPOINT, exit_(), name="bad")
    e = ei.value
    assert e.op == "BPF_PROG_LOAD"
    assert e.errno == errno.EACCES
    assert "R0 !read_ok" in e.log
    assert "R0 !read_ok" in str(e)
    assert isinstance(e, OSError)


def test_prog_load_with_log_returns_log():
    fd, log = bpf.prog_load_with_log(K.BPF_PROG_TYPE_TRACEPOINT, mov64_imm(0, 0) + exit_(),
                                     log_level=K.BPF_LOG_LEVEL1 | K.BPF_LOG_STATS)
    os.close(fd)
    assert "processed 2 insns" in log
    fd, log = bpf.prog_load_with_log(K.BPF_PROG_TYPE_TRACEPOINT, mov64_imm(0, 0) + exit_())
    os.close(fd)
    assert log == ""


# ---------------------------------------------------------------- 5. kprobe

@pytest.mark.skipif(perf.pmu_available("kprobe"), reason="this kernel has a kprobe PMU")
def test_open_kprobe_plain_error():
    with pytest.raises(PerfError) as ei:
        perf.open_kprobe("vfs_read")
    assert "kprobe" in str(ei.value)
    assert "vfs_read" in str(ei.value)


# ---------------------------------------------------------------- 6. perf software event

def test_software_cpu_clock_sampling_counts():
    map_fd = bpf.map_create(K.BPF_MAP_TYPE_ARRAY, 4, 8, 1, name="prof")
    prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_PERF_EVENT, counter_prog(map_fd), name="prof")
    pid_of_prog = prog_id(prog_fd)
    old_affinity = os.sched_getaffinity(0)
    perf_fd = perf.open_software(K.PERF_COUNT_SW_CPU_CLOCK, sample_freq=1000, cpu=0)
    try:
        perf.attach_bpf(perf_fd, prog_fd)
        os.sched_setaffinity(0, {0})
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            pass
    finally:
        os.sched_setaffinity(0, old_affinity)
        os.close(perf_fd)
        os.close(prog_fd)
    count = struct.unpack("<Q", bpf.map_lookup(map_fd, u32(0), 8))[0]
    os.close(map_fd)
    assert count > 0
    assert_prog_gone(pid_of_prog)


def test_attach_wrong_program_type_is_plain_error():
    prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_TRACEPOINT, mov64_imm(0, 0) + exit_())
    perf_fd = perf.open_software(K.PERF_COUNT_SW_CPU_CLOCK, sample_period=10_000_000, cpu=0)
    try:
        with pytest.raises(PerfError) as ei:
            perf.attach_bpf(perf_fd, prog_fd)
        assert ei.value.errno == errno.EINVAL
        assert "program type" in str(ei.value)
    finally:
        os.close(perf_fd)
        os.close(prog_fd)


# ---------------------------------------------------------------- 7. probing, misc

def test_probe_prog_type():
    assert bpf.probe_prog_type(K.BPF_PROG_TYPE_TRACEPOINT) is True
    assert bpf.probe_prog_type(K.BPF_PROG_TYPE_RAW_TRACEPOINT) is True
    assert bpf.probe_prog_type(9999) is False


def test_cpu_lists_and_tracefs():
    online = perf.online_cpus()
    assert online and online == sorted(online) and 0 in online
    assert bpf.possible_cpus() >= len(online)
    assert perf.parse_cpu_list("0-2,5,7-8\n") == [0, 1, 2, 5, 7, 8]
    root = perf.tracefs_path()
    assert os.path.isdir(os.path.join(root, "events"))
    assert perf.tracepoint_id("syscalls", "sys_enter_getppid") > 0


def _libc_file_offset(symbol):
    """(path, file offset) of a libc function, from its address in our process."""
    import ctypes
    addr = ctypes.cast(getattr(ctypes.CDLL(None), symbol), ctypes.c_void_p).value
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= addr < hi and len(parts) >= 6:
                return parts[5], addr - lo + int(parts[2], 16)
    raise LookupError(symbol)


@pytest.mark.parametrize("retprobe", [False, True])
def test_uprobe_on_libc_getppid_counts(retprobe):
    if not perf.pmu_available("uprobe"):
        pytest.skip("no uprobe PMU")
    path, offset = _libc_file_offset("getppid")
    map_fd = bpf.map_create(K.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    prog_fd = bpf.prog_load(K.BPF_PROG_TYPE_KPROBE, counter_prog(map_fd), name="upr")
    try:
        perf_fd = perf.open_uprobe(path, offset, retprobe=retprobe, pid=os.getpid())
        try:
            perf.attach_bpf(perf_fd, prog_fd)
            for _ in range(100):
                os.getppid()
        finally:
            os.close(perf_fd)
        for _ in range(5):
            os.getppid()
        assert bpf.map_lookup(map_fd, u32(0), 8) == u64(100)
    finally:
        os.close(prog_fd)
        os.close(map_fd)
