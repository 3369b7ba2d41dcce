"""DWARF debug information of user-space binaries, read with pyelftools:
what uprobes need from it, as bpftrace (libdw) finds and reads it.

* Where the DWARF is (`DebugInfo.for_binary`): the binary's own
  `.debug_info`; else a separate debug file found as libdw's standard
  search does it: its `.gnu_debuglink` name (or `BASENAME.debug`) in each
  directory of the search path (`--debuginfo` dirs, then bpftrace's
  default `:.debug:/usr/lib/debug`: "" is the binary's directory, a
  relative entry is under it, an absolute one is tried with the binary's
  directory appended and as is), or `.build-id/xx/rest.debug` under an
  absolute entry. Skeleton units (split DWARF) are completed from
  `BINARY.dwp` (a DWARF package, split per unit with its `.debug_cu_index`)
  or from their `.dwo` file (DW_AT_dwo_name, absolute, under
  DW_AT_comp_dir, or next to the binary).
* Only the DIEs a probe needs are read: a function is found by name among
  the top-level DIEs of one unit at a time: first the unit .debug_aranges
  says holds its address (from the symbol table), else each in order (each
  unit's names are indexed once, cached per binary); struct members
  and pointees are converted to language types when a program names them
  (`DwarfRecordType`), so a linked list costs one small object per step.
* Types follow bpftrace's Dwarf::get_stype: typedefs/const/volatile are
  peeled; integers keep size and sign (enums are unsigned); `char[N]` is a
  string of N bytes; other arrays are arrays; pointers point to user
  memory; structs and unions are records. Type names for `-lv` follow
  Dwarf::get_type_name (`int*`, `struct Foo*`, `const char*`).
* `line_address` maps FILE:LINE[:COL] to an address through the line
  table of the unit whose file list names FILE (for split DWARF, the
  skeleton's line table), taking the first row of that line.

pyelftools has no split-DWARF support, so the `.dwo` sections are given to
a DWARFInfo of their own; a split unit has no DW_AT_str_offsets_base (its
string offsets start after the section header), which is supplied before
its top DIE's indirect strings are translated.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import field
from pytrace.lang.records import record
from functools import cached_property, lru_cache

from pytrace.lang import types as T

DEFAULT_SEARCH_PATH = ":.debug:/usr/lib/debug"  # bpftrace's DEFAULT_DEBUG_INFO_PATHS
PEELED = ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_restrict_type",
          "DW_TAG_atomic_type", "DW_TAG_immutable_type", "DW_TAG_packed_type", "DW_TAG_shared_type")
RECORD_PREFIX = {"DW_TAG_structure_type": "struct ", "DW_TAG_union_type": "union ",
                 "DW_TAG_enumeration_type": "enum "}
UNSIGNED = ("DW_ATE_boolean", "DW_ATE_unsigned", "DW_ATE_unsigned_char")
SIGNED = ("DW_ATE_signed", "DW_ATE_signed_char")
INT_BITS = (8, 16, 32, 64)

# Section fields of pyelftools' DWARFInfo, and the section each is read from.
_SECTION_FIELDS = {
    "debug_info_sec": "debug_info", "debug_aranges_sec": "debug_aranges", "debug_abbrev_sec": "debug_abbrev",
    "debug_frame_sec": "debug_frame", "eh_frame_sec": "eh_frame", "debug_str_sec": "debug_str",
    "debug_loc_sec": "debug_loc", "debug_ranges_sec": "debug_ranges", "debug_line_sec": "debug_line",
    "debug_pubtypes_sec": "debug_pubtypes", "debug_pubnames_sec": "debug_pubnames",
    "debug_addr_sec": "debug_addr", "debug_str_offsets_sec": "debug_str_offsets",
    "debug_line_str_sec": "debug_line_str", "debug_loclists_sec": "debug_loclists",
    "debug_rnglists_sec": "debug_rnglists", "debug_sup_sec": "debug_sup",
    "gnu_debugaltlink_sec": "gnu_debugaltlink", "debug_types_sec": "debug_types",
}
# DW_SECT_* column ids of a DWARF 5 (and GNU v2) package index -> section.
_DWP_COLUMNS = {1: "debug_info", 3: "debug_abbrev", 4: "debug_line", 5: "debug_loclists",
                6: "debug_str_offsets", 8: "debug_rnglists"}
_DWP_COLUMNS_V2 = {1: "debug_info", 3: "debug_abbrev", 4: "debug_line", 5: "debug_loc",
                   6: "debug_str_offsets", 8: "debug_rnglists"}


@lru_cache(maxsize=1)
def supported() -> bool:
    """Whether DWARF can be read here (pyelftools installed): `--info`'s
    "libdw (DWARF support)" line, which bpftrace's suite reads."""
    try:
        import elftools.dwarf.dwarfinfo  # noqa: F401
    except ImportError:
        return False
    return True


class DwarfError(Exception):
    """DWARF that cannot be used: the message is bpftrace's where it has one."""


@record(frozen=True)
class Param:
    name: str
    type_die: object | None  # a pyelftools DIE, None for void


# ------------------------------------------------------------------ finding the files
def search_path(debuginfo_dirs: list[str] | tuple[str, ...] = ()) -> str:
    """The search path bpftrace builds: each --debuginfo DIR, then its defaults."""
    return "".join(d + ":" for d in debuginfo_dirs) + DEFAULT_SEARCH_PATH


def _debuglink(elf) -> str | None:
    sec = elf.get_section_by_name(".gnu_debuglink")
    if sec is None:
        return None
    name = sec.data().split(b"\0", 1)[0]
    return os.fsdecode(name) or None


def _build_id(elf) -> str | None:
    sec = elf.get_section_by_name(".note.gnu.build-id")
    if sec is None:
        return None
    for note in sec.iter_notes():
        if note["n_type"] == "NT_GNU_BUILD_ID":
            return note["n_desc"]
    return None


def debug_file_candidates(binary: str, link: str, build_id: str | None, path: str) -> list[str]:
    """Where libdw's standard search looks for a binary's separate debug file."""
    file_dir = os.path.dirname(binary) or "."
    abs_dir = os.path.dirname(os.path.abspath(binary))
    out = []
    for entry in path.split(":"):
        if entry.startswith(("+", "-")):  # libdw's CRC-check markers
            entry = entry[1:]
        if not entry:
            out.append(os.path.join(file_dir, link))
        elif entry.startswith("/"):
            if build_id and len(build_id) > 2:
                out.append(os.path.join(entry, ".build-id", build_id[:2], build_id[2:] + ".debug"))
            out.append(entry + os.path.join(abs_dir, link))
            out.append(os.path.join(entry, link))
        else:
            out.append(os.path.join(file_dir, entry, link))
    return out


def _has_debug_info(elf) -> bool:
    sec = elf.get_section_by_name(".debug_info") or elf.get_section_by_name(".zdebug_info")
    return sec is not None and sec["sh_type"] != "SHT_NOBITS"


def _open_elf(path: str):
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        f = open(path, "rb")
    except OSError:
        return None
    try:
        return ELFFile(f)
    except (ELFError, ValueError, struct.error):
        f.close()
        return None


# ------------------------------------------------------------------ split DWARF
def _section_bytes(elf, name: str) -> bytes | None:
    sec = elf.get_section_by_name(name)
    return None if sec is None or sec["sh_type"] == "SHT_NOBITS" else sec.data()


def _dwarf_info(elf, sections: dict[str, bytes | None]):
    """A pyelftools DWARFInfo over the given sections' bytes (by name without dot)."""
    from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DWARFInfo, DwarfConfig

    def descriptor(name: str):
        data = sections.get(name)
        if data is None:
            return None
        return DebugSectionDescriptor(io.BytesIO(data), "." + name, None, len(data), 0)

    config = DwarfConfig(little_endian=elf.little_endian, default_address_size=elf.elfclass // 8,
                         machine_arch=elf.get_machine_arch())
    return DWARFInfo(config=config, **{f: descriptor(s) for f, s in _SECTION_FIELDS.items()})


def _dwo_sections(elf) -> dict[str, bytes | None]:
    names = ("debug_info", "debug_abbrev", "debug_str", "debug_line", "debug_str_offsets", "debug_loclists",
             "debug_rnglists", "debug_loc")
    return {n: _section_bytes(elf, f".{n}.dwo") for n in names}


def _dwp_units(elf) -> dict[int, dict[str, bytes | None]]:
    """A DWARF package's units: dwo id -> that unit's slices of the sections."""
    index = _section_bytes(elf, ".debug_cu_index")
    whole = _dwo_sections(elf)
    if index is None or len(index) < 16:
        return {}
    version, ncols, nunits, nslots = struct.unpack_from("<IIII", index, 0)
    version &= 0xFFFF
    columns_of = _DWP_COLUMNS if version == 5 else _DWP_COLUMNS_V2
    pos = 16
    hashes = struct.unpack_from(f"<{nslots}Q", index, pos)
    pos += 8 * nslots
    rows = struct.unpack_from(f"<{nslots}I", index, pos)
    pos += 4 * nslots
    columns = struct.unpack_from(f"<{ncols}I", index, pos)
    pos += 4 * ncols
    offsets = struct.unpack_from(f"<{nunits * ncols}I", index, pos)
    sizes = struct.unpack_from(f"<{nunits * ncols}I", index, pos + 4 * nunits * ncols)
    units = {}
    for sig, row in zip(hashes, rows):
        if row == 0 or row > nunits:
            continue
        unit = dict(whole)  # sections without a column (debug_str) are shared
        for c, sect in enumerate(columns):
            name = columns_of.get(sect)
            data = whole.get(name) if name else None
            if data is not None:
                k = (row - 1) * ncols + c
                unit[name] = data[offsets[k]:offsets[k] + sizes[k]]
        units[sig] = unit
    return units


def _split_top_die(cu, addr_base: int | None = None):
    """A split unit's top DIE, its indirect strings translated: its string
    offsets start right after the .debug_str_offsets.dwo header, and its
    addresses are in the skeleton's .debug_addr at the skeleton's base."""
    from elftools.common.exceptions import DWARFError
    from elftools.dwarf.die import AttributeValue

    try:
        return cu.get_top_DIE()
    except DWARFError:
        pass
    top = cu.get_top_DIE()  # cached untranslated by the failed call
    bases = {"DW_AT_str_offsets_base": 8 if cu.structs.dwarf_format == 32 else 16, "DW_AT_addr_base": addr_base}
    for name, value in bases.items():
        if value is not None and name not in top.attributes:
            top.attributes[name] = AttributeValue(name=name, form="DW_FORM_sec_offset", value=value,
                                                  raw_value=value, offset=0, indirection_length=0)
    top._translate_indirect_attributes()
    return top


# ------------------------------------------------------------------ the reader
@record
class _Unit:
    cu: object  # the unit with the types and functions (the split unit of a skeleton)
    line_cu: object  # the unit whose line table maps this code (the skeleton)
    names: dict | None = None  # top-level subprogram/struct names -> DIE, built on first use


class DebugInfo:
    """The DWARF of one binary (see the module doc)."""

    def __init__(self, binary: str, dwarf, warnings: list[str] | None = None) -> None:
        self.binary = binary
        self.dwarf = dwarf
        self.warnings = warnings or []
        self._units: list[_Unit] | None = None
        self._unit_by_offset: dict[int, _Unit] = {}  # units read one at a time (by address)
        self._split_dwarfs: dict[int, object] | None = None

    # -------------------------------------------------------------- opening
    @classmethod
    def for_binary(cls, binary: str, path: str = DEFAULT_SEARCH_PATH) -> DebugInfo | None:
        """The binary's DWARF, or None when there is none (cached per file and path)."""
        try:
            st = os.stat(binary)
        except OSError:
            return None
        return _load(os.path.abspath(binary), binary, st.st_mtime_ns, st.st_size, path)

    @classmethod
    def _open(cls, binary: str, path: str) -> DebugInfo | None:
        elf = _open_elf(binary)
        if elf is None:
            return None
        source = elf
        if not _has_debug_info(elf):
            link = _debuglink(elf) or os.path.basename(binary) + ".debug"
            source = None
            for cand in debug_file_candidates(binary, link, _build_id(elf), path):
                if os.path.isfile(cand) and os.path.realpath(cand) != os.path.realpath(binary):
                    other = _open_elf(cand)
                    if other is not None and _has_debug_info(other):
                        source = other
                        break
            if source is None:
                return None
        try:
            dwarf = source.get_dwarf_info(follow_links=False)
        except Exception:  # pyelftools raises many kinds on malformed DWARF
            return None
        return cls(binary, dwarf)

    # -------------------------------------------------------------- units
    def units(self) -> list[_Unit]:
        if self._units is None:
            self._units = []
            for cu in self.dwarf.iter_CUs():
                unit = self._unit_by_offset.get(cu.cu_offset) or _Unit(self._full_unit(cu), cu)
                self._unit_by_offset[cu.cu_offset] = unit
                self._units.append(unit)
        return self._units

    def _full_unit(self, cu):
        """A skeleton unit's split unit (itself for an ordinary unit)."""
        top = cu.get_top_DIE()
        dwo_name = top.attributes.get("DW_AT_dwo_name") or top.attributes.get("DW_AT_GNU_dwo_name")
        if cu.header.get("unit_type") != "DW_UT_skeleton" and dwo_name is None:
            return cu
        dwo_id = cu.header.get("dwo_id")
        if dwo_id is None and "DW_AT_GNU_dwo_id" in top.attributes:
            dwo_id = top.attributes["DW_AT_GNU_dwo_id"].value
        split = self._split_unit(dwo_id, _text(dwo_name.value) if dwo_name else "",
                                 _text(_attr(top, "DW_AT_comp_dir", b"")),
                                 _attr(top, "DW_AT_addr_base", _attr(top, "DW_AT_GNU_addr_base")))
        if split is None:
            stem = os.path.splitext(os.path.basename(self.binary))[0]
            dwo = os.path.basename(_text(dwo_name.value)) if dwo_name else stem + ".dwo"
            self.warnings.append(f"Unable to find split debug file '{dwo}' or '{stem}.dwp' for '{self.binary}', "
                                 "debugging information may be incomplete!")
            return cu
        return split

    def _split_unit(self, dwo_id, dwo_name: str, comp_dir: str, addr_base: int | None):
        """The split unit with this dwo id: from BINARY.dwp, else the .dwo file."""
        addr_sec = self.dwarf.debug_addr_sec
        addr = {"debug_addr": _read_all(addr_sec.stream)} if addr_sec is not None else {}
        if self._split_dwarfs is None:
            self._split_dwarfs = {}
            dwp = _open_elf(self.binary + ".dwp")
            if dwp is not None:
                for sig, sections in _dwp_units(dwp).items():
                    self._split_dwarfs[sig] = _dwarf_info(dwp, {**sections, **addr})
        candidates = [self._split_dwarfs.get(dwo_id)] if dwo_id in self._split_dwarfs else []
        for path in _dwo_paths(self.binary, dwo_name, comp_dir):
            elf = _open_elf(path) if os.path.isfile(path) else None
            if elf is not None:
                candidates.append(_dwarf_info(elf, {**_dwo_sections(elf), **addr}))
        for dwarf in candidates:
            try:
                for cu in dwarf.iter_CUs():
                    if dwo_id is None or cu.header.get("dwo_id", dwo_id) == dwo_id:
                        _split_top_die(cu, addr_base)
                        return cu
            except Exception:  # a malformed .dwo: try the next place
                continue
        return None

    def _names(self, unit: _Unit) -> dict:
        if unit.names is None:
            unit.names = {}
            for die in _split_top_die(unit.cu).iter_children():
                name = die.attributes.get("DW_AT_name")
                if name is None or die.attributes.get("DW_AT_declaration"):
                    continue
                key = (die.tag, _text(name.value))
                unit.names.setdefault(key, die)
        return unit.names

    def _find(self, tag: str, name: str, first: _Unit | None = None):
        for unit in ([first] if first is not None else []) + self.units():
            die = self._names(unit).get((tag, name))
            if die is not None:
                return die
        return None

    def _unit_at(self, address: int) -> _Unit | None:
        """The unit whose code holds an address, from .debug_aranges (None: no table)."""
        try:
            aranges = self.dwarf.get_aranges()
            offset = aranges.cu_offset_at_addr(address) if aranges is not None else None
            if offset is None:
                return None
            unit = self._unit_by_offset.get(offset)
            if unit is None:  # only this unit is read (a big library has thousands)
                cu = self.dwarf.get_CU_at(offset)
                unit = self._unit_by_offset[offset] = _Unit(self._full_unit(cu), cu)
            return unit
        except Exception:  # a malformed table: scan instead
            return None

    # -------------------------------------------------------------- functions
    def function(self, name: str, address: int | None = None):
        """A function's DIE; its address (from the symbol table), when
        given, picks the unit to look in first, so others are not read."""
        first = self._unit_at(address) if address is not None else None
        return self._find("DW_TAG_subprogram", name, first)

    def params(self, func: str, address: int | None = None) -> list[Param] | None:
        """A function's formal parameters, or None when DWARF does not know it."""
        die = self.function(func, address)
        if die is None:
            return None
        out = []
        for child in die.iter_children():
            if child.tag == "DW_TAG_formal_parameter":
                name = child.attributes.get("DW_AT_name")
                out.append(Param(_text(name.value) if name else "", _type_of(child)))
        return out

    def param_listing(self, func: str, address: int | None = None) -> list[str]:
        """`-lv` lines for a function's parameters (without indentation)."""
        return [f"{type_name(p.type_die)} {p.name}" if p.name else type_name(p.type_die)
                for p in self.params(func, address) or []]

    # -------------------------------------------------------------- types
    def struct(self, name: str) -> T.Type | None:
        """The struct or union named `struct NAME` / `union NAME` / `NAME`."""
        for prefix, tag in (("struct ", "DW_TAG_structure_type"), ("union ", "DW_TAG_union_type")):
            if name.startswith(prefix):
                die = self._find(tag, name[len(prefix):])
                return to_type(die) if die is not None else None
        die = self._find("DW_TAG_structure_type", name)
        return to_type(die) if die is not None else None

    # -------------------------------------------------------------- lines
    def line_address(self, source_file: str, line: int, col: int = 0) -> int:
        """The address of FILE:LINE[:COL], as bpftrace's Dwarf::line_to_addr."""
        matched = None
        for unit in self.units():
            prog = self.dwarf.line_program_for_CU(unit.line_cu)
            if prog is None:
                continue
            for path in _file_names(prog, unit.line_cu):
                if _path_ends_with(path, source_file):
                    if matched is None:
                        matched = (unit, prog, path)
                    elif path != matched[2]:
                        raise DwarfError(f"Ambiguous source path, matches multiple files: {matched[2]}, {path}")
        if matched is None:
            raise DwarfError(f"No compilation unit matches {source_file}")
        unit, prog, cu_path = matched
        names = _file_names(prog, unit.line_cu)
        base = 0 if prog.header.version >= 5 else 1
        for entry in prog.get_entries():
            state = entry.state
            if state is None or state.end_sequence:
                continue
            index = state.file - base
            if not 0 <= index < len(names) or not _path_ends_with(names[index], cu_path):
                continue
            if state.line == line and (col == 0 or state.column == col):
                return state.address
        where = f"{source_file}:{line}" + (f":{col}" if col else "")
        raise DwarfError(f"Unable to map '{where}' to address")


@lru_cache(maxsize=32)
def _load(abspath: str, binary: str, _mtime: int, _size: int, path: str) -> DebugInfo | None:
    return DebugInfo._open(binary, path)


def _read_all(stream) -> bytes:
    stream.seek(0)
    return stream.read()


def _dwo_paths(binary: str, dwo_name: str, comp_dir: str) -> list[str]:
    if not dwo_name:
        return [os.path.splitext(binary)[0] + ".dwo"]
    out = [dwo_name] if os.path.isabs(dwo_name) else [os.path.join(comp_dir, dwo_name)] if comp_dir else []
    out.append(os.path.join(os.path.dirname(binary) or ".", os.path.basename(dwo_name)))
    return out


def _file_names(prog, cu) -> list[str]:
    """The line table's file names as paths (joined with their directories)."""
    header = prog.header
    dirs = [_text(d.DW_LNCT_path) if hasattr(d, "DW_LNCT_path") else _text(d)
            for d in header.get("include_directory") or []]
    comp_dir = _text(cu.get_top_DIE().attributes["DW_AT_comp_dir"].value) \
        if "DW_AT_comp_dir" in cu.get_top_DIE().attributes else ""
    if header.version < 5:
        dirs = [comp_dir] + dirs
    out = []
    for entry in header.get("file_entry") or []:
        name = _text(entry.name if hasattr(entry, "name") else entry.DW_LNCT_path)
        d = entry.dir_index if hasattr(entry, "dir_index") else entry.DW_LNCT_directory_index
        directory = dirs[d] if 0 <= d < len(dirs) else ""
        out.append(os.path.join(directory, name))
    return out


def _path_ends_with(path: str, suffix: str) -> bool:
    """Whether `path`'s last components are `suffix`'s (bpftrace's util::path_ends_with)."""
    a = [p for p in os.path.normpath(path).split("/") if p]
    b = [p for p in os.path.normpath(suffix).split("/") if p and p != "."]
    return bool(b) and a[-len(b):] == b


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _type_of(die):
    return die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None


def _attr(die, name: str, default=None):
    a = die.attributes.get(name)
    return default if a is None else a.value


# ------------------------------------------------------------------ types
def type_name(die) -> str:
    """A type as bpftrace's `-lv` names it (Dwarf::get_type_name)."""
    if die is None:
        return "void"
    tag = die.tag
    if tag in ("DW_TAG_base_type", "DW_TAG_typedef"):
        return _text(_attr(die, "DW_AT_name", b""))
    if tag == "DW_TAG_pointer_type":
        inner = _type_of(die)
        return "void*" if inner is None else type_name(inner) + "*"
    if tag in RECORD_PREFIX:
        name = _attr(die, "DW_AT_name")
        return RECORD_PREFIX[tag] + (_text(name) if name is not None else "<anonymous>")
    if tag == "DW_TAG_const_type":
        inner = _type_of(die)
        if inner is not None and inner.tag == "DW_TAG_pointer_type":
            return type_name(inner) + " const"
        return "const " + type_name(inner)
    return "<unknown type>"


def peel(die):
    """The type under typedefs and qualifiers (None: void)."""
    seen = 0
    while die is not None and die.tag in PEELED and seen < 64:
        die = _type_of(die)
        seen += 1
    return die


def to_type(die) -> T.Type | None:
    """A DWARF type as a language type (None when the language has none)."""
    die = peel(die)
    if die is None:
        return None
    convert = _CONVERTERS.get(die.tag)
    return convert(die) if convert is not None else None


def _int_type(die) -> T.Type | None:
    bits = 8 * _attr(die, "DW_AT_byte_size", 0)
    encoding = _attr(die, "DW_AT_encoding")
    from elftools.dwarf.enums import ENUM_DW_ATE

    names = {v: k for k, v in ENUM_DW_ATE.items()}
    kind = names.get(encoding, "")
    if bits not in INT_BITS or kind not in UNSIGNED + SIGNED:
        return None
    return T.IntType(bits, kind in SIGNED)


def _enum_type(die) -> T.Type | None:
    bits = 8 * _attr(die, "DW_AT_byte_size", 0)
    return T.IntType(bits, False) if bits in INT_BITS else None


def _pointer_type(die) -> T.Type:
    inner = _type_of(die)
    return T.PointerType(to_type(inner) if inner is not None else None, "user")


def _array_type(die) -> T.Type | None:
    elem_die = _type_of(die)
    counts = []
    for sub in die.iter_children():
        if sub.tag == "DW_TAG_subrange_type":
            if "DW_AT_count" in sub.attributes:
                counts.append(_attr(sub, "DW_AT_count"))
            elif "DW_AT_upper_bound" in sub.attributes:
                counts.append(_attr(sub, "DW_AT_upper_bound") + 1)
            else:
                counts.append(0)
    base = peel(elem_die)
    is_char = base is not None and base.tag == "DW_TAG_base_type" and \
        _attr(base, "DW_AT_byte_size") == 1 and _int_type(base) is not None and \
        "char" in _text(_attr(base, "DW_AT_name", b""))
    t = None if is_char else to_type(elem_die)
    if t is None and not is_char:
        return None
    for n in reversed(counts):  # int a[2][3]: an array of 2 arrays of 3
        t = T.StringType(n) if t is None else T.ArrayType(t, n)
    return t


def _record_type(die) -> T.Type:
    name = _attr(die, "DW_AT_name")
    prefix = RECORD_PREFIX[die.tag]
    return DwarfRecordType(prefix + (_text(name) if name is not None else "<anonymous>"),
                           _attr(die, "DW_AT_byte_size", 0), die=die)


_CONVERTERS = {
    "DW_TAG_base_type": _int_type,
    "DW_TAG_enumeration_type": _enum_type,
    "DW_TAG_pointer_type": _pointer_type,
    "DW_TAG_array_type": _array_type,
    "DW_TAG_structure_type": _record_type,
    "DW_TAG_union_type": _record_type,
}


@record(frozen=True, eq=False)
class DwarfRecordType(T.RecordType):
    """A struct or union from DWARF whose members are converted when first asked for."""

    die: object = field(default=None, compare=False, repr=False)

    @cached_property
    def _members(self) -> dict[str, T.RecordField]:
        members = {}
        for member in self.die.iter_children() if self.die is not None else []:
            if member.tag != "DW_TAG_member":
                continue
            name = _text(_attr(member, "DW_AT_name", b""))
            ftype = to_type(_type_of(member))
            if name and ftype is not None:
                members[name] = _member(member, name, ftype)
        return members

    def field(self, name: str) -> T.RecordField | None:
        return self._members.get(name)

    def field_names(self) -> list[str]:
        return list(self._members)

    def all_fields(self) -> list[T.RecordField]:
        return list(self._members.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DwarfRecordType) and other.die is not None and self.die is not None and \
            other.die.dwarfinfo is self.die.dwarfinfo and other.die.cu.cu_offset == self.die.cu.cu_offset and \
            other.die.offset == self.die.offset

    def __hash__(self) -> int:
        return hash(("dwarf", self.record_name, self.record_size))


def _member(die, name: str, ftype: T.Type) -> T.RecordField:
    offset = _attr(die, "DW_AT_data_member_location", None)
    bits = _attr(die, "DW_AT_bit_size", 0)
    bit_offset = _attr(die, "DW_AT_data_bit_offset", None)
    if not isinstance(offset, int):
        offset = (bit_offset or 0) // 8
    if not bits:
        return T.RecordField(name, offset, ftype)
    if bit_offset is not None:  # DWARF >= 4
        return T.RecordField(name, bit_offset // 8, ftype, bitfield=(bit_offset % 8, bits))
    old = _attr(die, "DW_AT_bit_offset", 0)  # DWARF < 4: from the high-order bit of the container
    size = 8 * _attr(die, "DW_AT_byte_size", ftype.size)
    return T.RecordField(name, offset, ftype, bitfield=(size - old - bits, bits))
