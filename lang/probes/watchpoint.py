"""watchpoint:ADDRESS:LENGTH:MODE (`w:`): hardware memory watchpoints
(perf breakpoints). With -p PID or -c CMD the address is in that process;
without, it is a kernel address. MODE is `w`, `rw` or `x` (x86_64)."""

from __future__ import annotations

from pytrace.lang.probes.base import ProbeError, ProbeProvider, ProbeSpec

HW_BREAKPOINT_R, HW_BREAKPOINT_W, HW_BREAKPOINT_X = 1, 2, 4
BP_TYPES = {"r": HW_BREAKPOINT_R, "w": HW_BREAKPOINT_W, "x": HW_BREAKPOINT_X}
MODES = ("rw", "w", "x")  # what x86_64 debug registers can watch


class WatchpointProvider(ProbeProvider):
    name = "watchpoint"
    aliases = ("w",)
    prog_type = "perf_event"
    attach_kind = "watchpoint"
    doc = "hardware memory watchpoints: watchpoint:ADDRESS:LENGTH:MODE"

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        if len(parts) != 3:
            raise ProbeError("watchpoint probe must be watchpoint:ADDRESS:LENGTH:MODE")
        try:
            address, length = int(parts[0], 0), int(parts[1], 0)
        except ValueError:
            raise ProbeError(f"Invalid address or length: {parts[0]}:{parts[1]}") from None
        if not address:
            raise ProbeError("watchpoint must be attached to a non-zero address")
        if length not in (1, 2, 4, 8):
            raise ProbeError("watchpoint length must be one of (1,2,4,8)")
        mode = "".join(sorted(parts[2]))
        if not mode or any(c not in BP_TYPES for c in mode):
            raise ProbeError("watchpoint mode must be combination of (r,w,x)")
        if len(set(mode)) != len(mode):
            raise ProbeError("watchpoint modes may not be duplicated")
        if mode not in MODES:
            raise ProbeError(f"invalid watchpoint mode: {mode}", ["supported modes: " + ",".join(MODES)])
        bp_type = sum(BP_TYPES[c] for c in mode)
        return [ProbeSpec(self.name, f"watchpoint:{address:#x}:{length}:{mode}",
                          {"address": address, "length": length, "mode": mode},
                          {"kind": self.attach_kind, "address": address, "length": length, "bp_type": bp_type})]
