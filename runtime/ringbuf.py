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
through memoryviews of the mappings; on x86-64 (TSO) plain loads/stores
already have the acquire/release semantics libbpf asks for.

`drain` is the hot path: records are handed to the callback as (view,
offset, length) over the mapped data area, with no copy; the consumer
position is published every PUBLISH_BYTES and at the end of a drain, so the
producer gets the space back early without a store per record.  `consume`
is the same with a bytes copy per record.
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
PUBLISH_BYTES = 64 * 1024


def _view(addr: int, length: int) -> memoryview:
    return memoryview((ctypes.c_char * length).from_address(addr)).cast("B")


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
        self._consumer_pos = _view(self._cons, 8).cast("Q")
        self._producer_pos = _view(self._prod, 8).cast("Q")
        self.view = _view(self._prod + page, 2 * size)   # the data area, mapped twice
        self._words = self.view.cast("I")

    def fileno(self) -> int:
        """The epoll fd: readable when the ring buffer has data."""
        return self._epoll.fileno()

    def poll(self, timeout_ms: int, callback) -> int:
        """Wait up to timeout_ms (0: don't block, < 0: forever) for data, then
        consume everything available.  Returns the number of records passed
        to callback."""
        self.wait(timeout_ms)
        return self.consume(callback)

    def watch(self, fd: int) -> None:
        """Also end wait() when fd becomes readable (e.g. a pidfd: a process exited)."""
        if self._epoll is None:
            raise ValueError("ring buffer is closed")
        self._epoll.register(fd, select.EPOLLIN)

    def wait(self, timeout_ms: int) -> None:
        """Wait up to timeout_ms (0: don't block, < 0: forever) for data."""
        if self._epoll is None:
            raise ValueError("ring buffer is closed")
        self._epoll.poll(-1 if timeout_ms < 0 else timeout_ms / 1000.0)

    def consume(self, callback) -> int:
        """Non-blocking drain: callback(bytes) for each committed record, skip
        discarded ones, stop at the first record still being written."""
        return self.drain(lambda view, start, length: callback(bytes(view[start:start + length])))

    def drain(self, callback, limit: int = 0) -> int:
        """Non-blocking drain without copies: callback(view, start, length) for
        each committed record, whose bytes are view[start:start + length] (valid
        only during the call).  Skips discarded records, stops at the first
        record still being written or after `limit` records (0: no limit);
        returns how many were passed on."""
        if self._epoll is None:
            raise ValueError("ring buffer is closed")
        words, mask, view = self._words, self._mask, self.view
        consumer, producer = self._consumer_pos, self._producer_pos
        count = 0
        cons = published = consumer[0]
        try:
            while True:
                prod = producer[0]                        # acquire
                if cons >= prod:
                    return count
                while cons < prod:
                    at = cons & mask
                    length = words[at >> 2]
                    if length & _BUSY:
                        return count                      # not committed yet
                    size = length & _LEN_MASK
                    cons += (size + _HDR + 7) & ~7
                    if not length & _DISCARD:
                        count += 1
                        callback(view, at + _HDR, size)
                        if count == limit:
                            return count
                    if cons - published >= PUBLISH_BYTES:
                        consumer[0] = published = cons    # release
                # loop: the producer may have committed more meanwhile
        finally:
            if cons != published:
                consumer[0] = cons                        # a raising callback still consumed its record

    def close(self) -> None:
        """Unmap and close the epoll fd (the map fd stays open).  Idempotent."""
        for name in ("_words", "view", "_consumer_pos", "_producer_pos"):
            if isinstance(getattr(self, name, None), memoryview):
                getattr(self, name).release()
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
