"""PCAP files for skboutput(): the classic libpcap format (microsecond
timestamps), link type raw IP, as bpftrace writes them with pcap_dump."""

from __future__ import annotations

import struct
import time

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_RAW = 101  # DLT_RAW: packets begin with the IP header
SNAPLEN = 65535


class PcapWriter:
    def __init__(self, path: str) -> None:
        self.file = open(path, "wb")
        self.file.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
        self.file.flush()
        # boot-time timestamps (bpf_ktime_get_boot_ns) to wall-clock time
        self.boot_to_epoch_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def write(self, boot_ns: int, packet: bytes) -> None:
        secs, rest = divmod(boot_ns + self.boot_to_epoch_ns, 1_000_000_000)
        self.file.write(struct.pack("<IIII", secs, rest // 1000, len(packet), len(packet)) + packet)
        self.file.flush()

    def close(self) -> None:
        self.file.close()
