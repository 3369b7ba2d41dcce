"""User-space printf formatting with current bpftrace's semantics.

Current bpftrace (src/format_string.cpp FormatSpec::apply) does NOT call C
printf: each conversion is written to a C++ iostream.  Consequences, all
reproduced here:

* precision is ignored for every supported conversion (``%.2s`` prints the
  whole string, ``%.5d`` no extra zeros); it only applies to floats, which the
  type checker rejects.
* the ``0`` flag just sets the fill character, so ``%05d`` of -42 is
  ``00-42`` and ``%-05d`` of 7 is ``70000`` (left-aligned, filled with 0).
* the space flag is parsed and ignored; ``+`` only affects signed decimal
  conversions (%d %i, and integers printed with %s); ``#`` gives ``0x``/``0X``
  for %x/%X and a leading ``0`` for %o, but not for the value 0.
* without a length modifier %d/%i cast to 32-bit int and %u/%o/%x/%X to
  32-bit unsigned int (``%d`` of 2**32+1 prints 1, ``%x`` of -1 prints
  ffffffff); ``hh`` = 8 bits, ``h`` = 16, ``l ll j z t`` = 64, anything else
  (``L``, ``lll``, ...) = the 32-bit default.
* %c writes one byte (the value truncated to 8 bits), with width padding.
* %p prints the full 64-bit value as lowercase hex with ``0x``, except a zero
  value which prints ``0`` (libstdc++'s operator<<(const void*)).
* %s prints any value in its text form (strings, ints, true/false, tuples
  ``(1, abc)``, enum names); the width pads only the first piece written.
* a value that cannot be converted (e.g. a string for %d, only reachable if
  the type checker let it through) prints ``!{invalid integer conversion:
  <value>}``.
* %gr prints GFP flags by name with bpftrace's own table (util/gfp_flags).

Widths count bytes, like the C++ streams.  Bytes >= 0x80 written by %c are
returned as surrogateescape characters.
"""

from __future__ import annotations

from .printf_compiled import LENGTH_BITS
from .text import StreamState, emit, hex_format_buffer
from .values import MASK64, Symbolic, wrap_signed, wrap_unsigned

_SIGNED_BITS = _UNSIGNED_BITS = LENGTH_BITS


class _ConversionError(Exception):
    pass


def _as_number(v) -> int:
    if isinstance(v, Symbolic):
        return v.numeric
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    raise _ConversionError(f"invalid integer conversion: {emit(v)}")


def _byte_char(b: int) -> str:
    return chr(b) if b < 0x80 else chr(0xdc00 + b)


def _apply(seg, v) -> str:
    conv = seg.conv
    st = StreamState(width=seg.width or 0, fill='0' if seg.lead_zeros else ' ',
                     left=seg.left_align, showpos=seg.show_sign,
                     showbase=seg.alternate_form,
                     base={'o': 8, 'x': 16, 'X': 16}.get(conv, 10),
                     upper=conv == 'X')
    if conv in ('d', 'i'):
        bits = _SIGNED_BITS.get(seg.length, 32)
        return st.put_int(wrap_signed(_as_number(v), bits), signed=True)
    if conv in ('u', 'o', 'x', 'X'):
        bits = _UNSIGNED_BITS.get(seg.length, 32)
        return st.put_int(wrap_unsigned(_as_number(v), bits), signed=False)
    if conv == 'c':
        return st.put_str(_byte_char(_as_number(v) & 0xff))
    if conv == 'p':
        st.base, st.showbase, st.upper = 16, True, False
        return st.put_int(_as_number(v) & MASK64, signed=False)
    if conv in ('r', 'rx', 'rh') and isinstance(v, bytes):
        return st.put_str(hex_format_buffer(v, keep_ascii=conv == 'r',
                                            escape_hex=conv != 'rh'))
    if conv == 'gr':
        if isinstance(v, bool) or not isinstance(v, (int, Symbolic)):
            raise _ConversionError(f"invalid GFP flags conversion: {emit(v)}")
        return st.put_str(gfp_flags(_as_number(v) & MASK64))
    if conv in ('f', 'F', 'e', 'E', 'g', 'G', 'a', 'A'):
        raise NotImplementedError(f"%{conv} is rejected by the type checker")
    return emit(v, st)   # %s, %n and %r of a non-buffer print the text form


def _gfp_table():
    b = {name: 1 << i for i, name in enumerate(
        "DMA HIGHMEM DMA32 MOVABLE RECLAIMABLE HIGH IO FS ZERO UNUSED "
        "DIRECT_RECLAIM KSWAPD_RECLAIM WRITE NOWARN RETRY_MAYFAIL NOFAIL "
        "NORETRY MEMALLOC COMP NOMEMALLOC HARDWALL THISNODE ACCOUNT ZEROTAGS "
        "SKIP_ZERO SKIP_KASAN NO_OBJ_EXT".split())}
    kernel = b['DIRECT_RECLAIM'] | b['KSWAPD_RECLAIM'] | b['IO'] | b['FS']
    noio = b['DIRECT_RECLAIM'] | b['KSWAPD_RECLAIM']
    nofs = noio | b['IO']
    user = nofs | b['FS'] | b['HARDWALL']
    highuser = user | b['HIGHMEM']
    movable = highuser | b['MOVABLE'] | b['SKIP_KASAN']
    light = (movable | b['COMP'] | b['NOMEMALLOC'] | b['NOWARN']) & ~noio
    table = [
        ('GFP_TRANSHUGE', light | b['DIRECT_RECLAIM']),
        ('GFP_TRANSHUGE_LIGHT', light), ('GFP_HIGHUSER_MOVABLE', movable),
        ('GFP_HIGHUSER', highuser), ('GFP_USER', user),
        ('GFP_KERNEL_ACCOUNT', kernel | b['ACCOUNT']), ('GFP_KERNEL', kernel),
        ('GFP_NOFS', nofs), ('GFP_ATOMIC', b['HIGH'] | b['KSWAPD_RECLAIM']),
        ('GFP_NOIO', noio), ('GFP_NOWAIT', b['KSWAPD_RECLAIM'] | b['NOWARN']),
        ('GFP_DMA', b['DMA']), ('__GFP_HIGHMEM', b['HIGHMEM']),
        ('GFP_DMA32', b['DMA32'])]
    table += [('__GFP_' + n, b[n]) for n in (
        "HIGH IO FS ZERO DIRECT_RECLAIM KSWAPD_RECLAIM WRITE NOWARN "
        "RETRY_MAYFAIL NOFAIL NORETRY MEMALLOC COMP NOMEMALLOC HARDWALL "
        "THISNODE ACCOUNT ZEROTAGS SKIP_ZERO SKIP_KASAN NO_OBJ_EXT").split()]
    return table


_GFP_FLAGS = _gfp_table()


def gfp_flags(flags: int) -> str:
    """util::GFPFlags::format."""
    if flags == 0:
        return "0"
    names, remaining = [], flags
    for name, mask in _GFP_FLAGS:
        if remaining & mask == mask:
            names.append(name)
            remaining &= ~mask
    if remaining:
        names.append(f"0x{remaining:x}")
    return "|".join(names)


def format_printf(spec, args) -> str:
    """FormatString::format: ``spec`` is the segment list from
    lang.format_string.parse_format, ``args`` the decoded argument values."""
    fragments, convs = [''], []
    for seg in spec:
        if seg.conv is None:
            fragments[-1] += seg.text
        else:
            convs.append(seg)
            fragments.append('')
    out = []
    for i, v in enumerate(args[:len(convs)]):
        out.append(fragments[i])
        try:
            out.append(_apply(convs[i], v))
        except _ConversionError as e:
            out.append('!{' + str(e) + '}')
    out.append(fragments[-1])
    return ''.join(out)
