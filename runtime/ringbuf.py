"""Consumer side of a BPF_MAP_TYPE_RINGBUF map, over mmap + epoll.

Kernel ABI (kernel/bpf/ringbuf.c, mirrored by libbpf's ringbuf.c):
  * mmap offset 0, one page, read-write:  u64 consumer_pos at byte 0
  * mmap offset PAGE_SIZE, read-only:     one page holding u64 producer_pos at
    byte 0, then the data area mapped twice (2 * size bytes) so a record that
    wraps around the end is still contiguous in our mapping
  * every record starts with an 8-byte header {u32 len; u32 pg_off}; len carries
    BPF_RINGBUF_BUSY_BIT (not committed yet) and BPF_RINGBUF_DISCARD_BIT;
    records are padded to 8 bytes: advance by round_up(len + 8, 8)
  * positions grow forever; the byte offset is pos & (size - 1)
  * the map fd is pollable: EPOLLIN once data is available

Ordering: positions and headers are read with single aligned 8/4-byte loads
through ctypes; on x86-64 (TSO) plain loads/stores already have the
acquire/release semantics libbpf asks for.  The consumer position is published
after each record, like libbpf, so the producer can reuse the space early.
"""

import ctypes
import mmap
import os
import select

from . import kernel_consts as K

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc["mmap"]
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                  ctypes.c_int, ctypes.c_long]
_munmap = _libc["munmap"]
_munmap.restype = ctypes.c_int
_munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value

_HDR = K.BPF_RINGBUF_HDR_SZ
_BUSY = K.BPF_RINGBUF_BUSY_BIT
_DISCARD = K.BPF_RINGBUF_DISCARD_BIT
_LEN_MASK = ~(_BUSY | _DISCARD) & 0xFFFFFFFF


def _map(length: int, prot: int, fd: int, offset: int) -> int:
    addr = _mmap(None, length, prot, mmap.MAP_SHARED, fd, offset)
    if addr in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"cannot mmap BPF ring buffer (fd {fd}, offset {offset}): "
                      f"{os.strerror(err)}")
    return addr


class RingBuffer:
    """Reads records from one BPF ring buffer map.  Does not own map_fd."""

    def __init__(self, map_fd: int, size: int):
        page = mmap.PAGESIZE
        if size <= 0 or size & (size - 1) or size % page:
            raise ValueError(f"ring buffer size {size} must be a power of 2 "
                             f"and a multiple of the page size ({page})")
        self.map_fd, self.size, self._mask = map_fd, size, size - 1
        self._page = page
        self._cons_len = page
        self._prod_len = page + 2 * size
        self._cons = self._prod = 0
        self._epoll = None
        try:
            self._cons = _map(self._cons_len, mmap.PROT_READ | mmap.PROT_WRITE, map_fd, 0)
            self._prod = _map(self._prod_len, mmap.PROT_READ, map_fd, page)
            self._epoll = select.epoll()
            self._epoll.register(map_fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        self._consumer_pos = ctypes.c_uint64.from_address(self._cons)
        self._producer_pos = ctypes.c_uint64.from_address(self._prod)
        self._data = self._prod + page

    def fileno(self) -> int:
        """The epoll fd: readable when the ring buffer has data."""
        return self._epoll.fileno()

    def poll(self, timeout_ms: int, callback) -> int:
        """Wait up to timeout_ms (0: don't block, < 0: forever) for data, then
        consume everything available.  Returns the number of records passed
        to callback."""
        if self._epoll is None:
            raise ValueError("ring buffer is closed")
        timeout = -1 if timeout_ms < 0 else timeout_ms / 1000.0
        self._epoll.poll(timeout)
        return self.consume(callback)

    def consume(self, callback) -> int:
        """Non-blocking drain: callback(bytes) for each committed record, skip
        discarded ones, stop at the first record still being written."""
        if self._epoll is None:
            raise ValueError("ring buffer is closed")
        count = 0
        cons = self._consumer_pos.value
        while True:
            prod = self._producer_pos.value           # acquire
            if cons >= prod:
                return count
            while cons < prod:
                hdr_addr = self._data + (cons & self._mask)
                length = ctypes.c_uint32.from_address(hdr_addr).value
                if length & _BUSY:
                    return count                       # not committed yet
                cons += (((length & _LEN_MASK) + _HDR + 7) // 8) * 8
                try:
                    if not length & _DISCARD:
                        count += 1
                        callback(ctypes.string_at(hdr_addr + _HDR, length & _LEN_MASK))
                finally:
                    self._consumer_pos.value = cons    # release
            # loop: the producer may have committed more meanwhile

    def close(self) -> None:
        """Unmap and close the epoll fd (the map fd stays open).  Idempotent."""
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        if self._prod:
            _munmap(self._prod, self._prod_len)
            self._prod = 0
        if self._cons:
            _munmap(self._cons, self._cons_len)
            self._cons = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
