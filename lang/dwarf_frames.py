"""Source locations of code addresses, from DWARF: what a user stack frame
shows with config show_debug_info (bpftrace asks blazesym for the same).

`code_frames(binary, vaddr)` gives, innermost first, one `CodeFrame` per
function active at the address: the functions inlined there (deepest
first), then the function the code belongs to. The innermost frame's
location is the line table's row for the address; each frame further out
is at the call of the one inside it (the inlined subroutine's
DW_AT_call_file / DW_AT_call_line). The outermost frame has no name here:
the symbol table names it (runtime/symbols.py).

Read once per compile unit (with pyelftools, through lang/dwarf.DebugInfo,
so separate debug files and split DWARF are found as for uprobes): its
line table as a sorted row list, and its inlined subroutines as
(range, depth, name, call site) records; lookups bisect the rows and scan
the records of the unit holding the address.
"""

from __future__ import annotations

import bisect
import os
from pytrace.lang.records import record
from functools import lru_cache

from pytrace.lang.dwarf import DebugInfo, _file_names, _text, supported


@record(frozen=True)
class CodeFrame:
    name: str | None  # an inlined function's name; None: the enclosing function (named by the symbol table)
    path: str  # source file
    line: int
    inlined: bool


@record
class _Inlined:
    ranges: list[tuple[int, int]]
    depth: int
    name: str
    call_file: int
    call_line: int


@record
class _UnitTables:
    ranges: list[tuple[int, int]]  # the code of the unit (from its top DIE)
    files: list[str]
    file_base: int  # 1 before DWARF 5: file numbers count from 1
    addrs: list[int]
    rows: list[tuple[int, int, bool]]  # (file, line, end of sequence), parallel to addrs
    inlined: list[_Inlined] | None = None


SCOPES = ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine", "DW_TAG_lexical_block", "DW_TAG_namespace",
          "DW_TAG_class_type", "DW_TAG_structure_type", "DW_TAG_union_type")


def code_frames(binary: str, vaddr: int) -> list[CodeFrame]:
    """The frames at an address of the binary (see the module doc); [] without DWARF for it,
    or without pyelftools (a runtime-only install: frames print as bpftrace's without libdw)."""
    if not supported():
        return []
    try:
        st = os.stat(binary)
    except OSError:
        return []
    return list(_code_frames(os.path.realpath(binary), st.st_mtime_ns, vaddr))


@lru_cache(maxsize=4096)
def _code_frames(binary: str, _mtime: int, vaddr: int) -> tuple[CodeFrame, ...]:
    reader = _reader(binary, _mtime)
    if reader is None:
        return ()
    try:
        return tuple(reader.frames(vaddr))
    except Exception:  # pyelftools raises many kinds on malformed DWARF: no location then
        return ()


@lru_cache(maxsize=32)
def _reader(binary: str, _mtime: int) -> _Reader | None:
    info = DebugInfo.for_binary(binary)
    return _Reader(info) if info is not None else None


class _Reader:
    def __init__(self, info: DebugInfo) -> None:
        self.info = info
        self.dwarf = info.dwarf
        self._tables: dict[int, _UnitTables] = {}

    def frames(self, vaddr: int) -> list[CodeFrame]:
        found = self._unit(vaddr)
        if found is None:
            return []
        unit, tables = found
        i = bisect.bisect_right(tables.addrs, vaddr) - 1
        if i < 0 or tables.rows[i][2]:
            return []
        file, line = tables.rows[i][0], tables.rows[i][1]
        out = []
        chain = sorted((r for r in self._inlined(unit, tables) if _holds(r.ranges, vaddr)), key=lambda r: -r.depth)
        for record in chain:
            out.append(CodeFrame(record.name, self._path(tables, file), line, True))
            file, line = record.call_file, record.call_line
        out.append(CodeFrame(None, self._path(tables, file), line, False))
        return out

    # ------------------------------------------------------------ units
    def _unit(self, vaddr: int):
        unit = self.info._unit_at(vaddr)  # from .debug_aranges; else the unit whose ranges hold it
        if unit is not None:
            tables = self._unit_tables(unit)
            return (unit, tables) if tables is not None else None
        for unit in self.info.units():
            tables = self._unit_tables(unit)
            if tables is not None and _holds(tables.ranges, vaddr):
                return unit, tables
        return None

    def _unit_tables(self, unit) -> _UnitTables | None:
        key = unit.line_cu.cu_offset
        if key not in self._tables:
            prog = self.dwarf.line_program_for_CU(unit.line_cu)
            if prog is None:
                self._tables[key] = None  # type: ignore[assignment]
                return None
            rows = []
            for entry in prog.get_entries():
                state = entry.state
                if state is not None:
                    rows.append((state.address, 0 if state.end_sequence else 1, state.file, state.line,
                                 state.end_sequence))
            rows.sort(key=lambda r: (r[0], r[1]))  # a sequence's end before another's start at the same address
            top = unit.line_cu.get_top_DIE()
            comp_dir = _text(top.attributes["DW_AT_comp_dir"].value) if "DW_AT_comp_dir" in top.attributes else ""
            files = [os.path.join(comp_dir, p) for p in _file_names(prog, unit.line_cu)]
            self._tables[key] = _UnitTables(self._ranges(top, unit.line_cu), files,
                                            0 if prog.header.version >= 5 else 1,
                                            [r[0] for r in rows], [(r[2], r[3], r[4]) for r in rows])
        return self._tables[key]

    @staticmethod
    def _path(tables: _UnitTables, file: int) -> str:
        index = file - tables.file_base
        return tables.files[index] if 0 <= index < len(tables.files) else "??"

    # ------------------------------------------------------------ inlined subroutines
    def _inlined(self, unit, tables: _UnitTables) -> list[_Inlined]:
        if tables.inlined is None:
            tables.inlined = []
            self._collect(unit.cu.get_top_DIE(), 0, unit.cu, tables.inlined)
        return tables.inlined

    def _collect(self, die, depth: int, cu, out: list[_Inlined]) -> None:
        for child in die.iter_children():
            if child.tag not in SCOPES:
                continue
            inner = depth
            if child.tag == "DW_TAG_inlined_subroutine":
                inner = depth + 1
                call_file = child.attributes.get("DW_AT_call_file")
                call_line = child.attributes.get("DW_AT_call_line")
                out.append(_Inlined(self._ranges(child, cu), inner, _name(child),
                                    call_file.value if call_file else 0, call_line.value if call_line else 0))
            self._collect(child, inner, cu, out)

    def _ranges(self, die, cu) -> list[tuple[int, int]]:
        attrs = die.attributes
        if "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
            low = attrs["DW_AT_low_pc"].value
            high = attrs["DW_AT_high_pc"]
            return [(low, high.value if high.form in ("DW_FORM_addr", "DW_FORM_addrx") else low + high.value)]
        if "DW_AT_ranges" not in attrs:
            return []
        lists = self.dwarf.range_lists()
        if lists is None:
            return []
        top = cu.get_top_DIE().attributes
        base = top["DW_AT_low_pc"].value if "DW_AT_low_pc" in top else 0
        out = []
        for entry in lists.get_range_list_at_offset(attrs["DW_AT_ranges"].value, cu=cu):
            if hasattr(entry, "base_address"):
                base = entry.base_address
            elif entry.is_absolute:
                out.append((entry.begin_offset, entry.end_offset))
            else:
                out.append((base + entry.begin_offset, base + entry.end_offset))
        return out


def _holds(ranges: list[tuple[int, int]], vaddr: int) -> bool:
    return any(lo <= vaddr < hi for lo, hi in ranges)


def _name(die) -> str:
    """An inlined subroutine's name: from its abstract origin (or that one's specification)."""
    for _ in range(4):
        if "DW_AT_name" in die.attributes:
            return _text(die.attributes["DW_AT_name"].value)
        for link in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if link in die.attributes:
                die = die.get_DIE_from_attribute(link)
                break
        else:
            break
    return "??"
