"""printf formatting with current bpftrace semantics (FormatSpec::apply,
which writes each conversion to a C++ iostream).

Expected strings: bpftrace's tests/runtime/call printf tests where they
exist; the rest were checked against a g++ 12 / libstdc++ program doing the
same stream operations as FormatSpec::apply (41k combinations of flags,
widths, length modifiers and values agreed).
"""

import pytest

from pytrace.lang.format_string import parse_format
from pytrace.runtime.output.printf import format_printf, gfp_flags
from pytrace.runtime.output.values import Symbolic


def fmt(f, *args):
    segments, error = parse_format(f)
    assert error is None
    return format_printf(segments, list(args))


def test_upstream_runtime_tests():
    assert fmt("hi!\n") == "hi!\n"
    assert fmt("value: %dms100\n", 100) == "value: 100ms100\n"
    assert fmt("%dst: %sa; %dnd: %sb;; %drd: %sc;;; %dth: %sd;;;;\n",
               1, "a", 2, "ab", 3, "abc", 4, "abcd") == \
        "1st: aa; 2nd: abb;; 3rd: abcc;;; 4th: abcdd;;;;\n"
    x = 0x12345678abcdef
    assert fmt("%hhx %hx %x %jx\n", x, x, x, x) == "ef cdef 78abcdef 12345678abcdef\n"
    assert fmt("%c%c%c%c\n", 0x41, 0x42, 0x43, 0x44) == "ABCD\n"
    one, two = Symbolic("ONE", 1, enum=True), Symbolic("TWO", 2, enum=True)
    assert fmt("%d %s %d %s\n", one, one, two, two) == "1 ONE 2 TWO\n"
    a, b_, c = (Symbolic(n, i, enum=True) for i, n in enumerate("ABC"))
    assert fmt("%-5s %5s %s\n", a, b_, c) == "A         B C\n"
    assert fmt("%5s %04x", "ba", 2) == "   ba 0002"
    assert fmt("GFPFlags: %gr\n", 0x1) == "GFPFlags: GFP_DMA\n"
    assert fmt("test %d", 5) == "test 5"
    assert fmt("Elapsed time: %llus\n", 1) == "Elapsed time: 1s\n"


@pytest.mark.parametrize("f,arg,out", [
    # signed decimal: 32-bit int unless a 64-bit length modifier is given
    ("%d", 42, "42"), ("%i", -42, "-42"), ("%d", 4294967297, "1"),
    ("%d", 2**31, "-2147483648"), ("%ld", 4294967297, "4294967297"),
    ("%lld", -4294967297, "-4294967297"), ("%jd", 2**63 - 1, "9223372036854775807"),
    ("%zd", -1, "-1"), ("%td", 2**40, "1099511627776"), ("%hd", 65535, "-1"),
    ("%hhd", 200, "-56"), ("%Ld", 4294967297, "1"), ("%lld", 2**64 - 1, "-1"),
    # unsigned: 32-bit unsigned int by default
    ("%u", -1, "4294967295"), ("%lu", -1, "18446744073709551615"),
    ("%llu", 2**64 - 1, "18446744073709551615"), ("%hu", -1, "65535"),
    ("%x", -1, "ffffffff"), ("%lx", -1, "ffffffffffffffff"), ("%X", 255, "FF"),
    ("%o", 8, "10"), ("%lo", -1, "1777777777777777777777"), ("%hhx", 0x1ff, "ff"),
    # flags
    ("%+d", 5, "+5"), ("%+d", -5, "-5"), ("%+d", 0, "+0"), ("%+u", 5, "5"),
    ("%+x", 5, "5"), ("% d", 5, "5"), ("%#x", 255, "0xff"), ("%#X", 255, "0XFF"),
    ("%#o", 8, "010"), ("%#x", 0, "0"), ("%#o", 0, "0"), ("%#d", 5, "5"),
    # width / fill / alignment (iostream: fill goes where the padding goes)
    ("%5d", 42, "   42"), ("%-5d|", 42, "42   |"), ("%05d", 42, "00042"),
    ("%05d", -42, "00-42"), ("%-05d", 7, "70000"), ("%+05d", 7, "000+7"),
    ("%#06x", 255, "000xff"), ("%-#6x|", 255, "0xff  |"), ("%08X", 0xbeef, "0000BEEF"),
    ("%1d", 12345, "12345"), ("%*d", 5, "5"),
    # precision is ignored for everything but floats
    ("%.2s", "abcdef", "abcdef"), ("%.5d", 42, "42"), ("%8.3s|", "abcdef", "  abcdef|"),
    # %s of anything
    ("%s", "str", "str"), ("%s", 5, "5"), ("%s", -5, "-5"), ("%+s", 5, "+5"),
    ("%05s", "ab", "000ab"), ("%-5s|", "ab", "ab   |"), ("%s", True, "true"),
    ("%6s|", False, " false|"), ("%s", (1, "abc"), "(1, abc)"),
    ("%8s|", (1, "a"), "       (1, a)|"), ("%s", Symbolic("0x10", 16), "0x10"),
    ("%s", [1, 2], "[1,2]"), ("%3s|", "é", " é|"),
    # %c
    ("%c", 65, "A"), ("%3c", 65, "  A"), ("%-3c|", 65, "A  |"), ("%c", 0x141, "A"),
    ("%lc", 66, "B"), ("%c", 0, "\0"), ("%c", 0xe9, "\udce9"),
    # %p: full 64 bits, libstdc++ prints a null pointer as 0
    ("%p", 4096, "0x1000"), ("%p", 0, "0"), ("%p", -1, "0xffffffffffffffff"),
    ("%10p", 4096, "    0x1000"), ("%-10p|", 4096, "0x1000    |"), ("%010p", 4096, "00000x1000"),
    ("%#p", 255, "0xff"), ("%+p", 1, "0x1"), ("%p", Symbolic("0xff", 255), "0xff"),
    # booleans as integers
    ("%d", True, "1"), ("%x", False, "0"),
    # buffers
    ("%r", b"ab\x01\xff", "ab\\x01\\xff"), ("%rx", b"ab", "\\x61\\x62"), ("%rh", b"ab\x0a", "61 62 0a"),
    ("%r", "plain", "plain"),
])
def test_conversions(f, arg, out):
    assert fmt(f, arg) == out


def test_literals_and_percent():
    assert fmt("100%%") == "100%"
    assert fmt("100%") == "100%"           # no match: stays literal
    assert fmt("%k %d", 3) == "%k 3"
    assert fmt("%5%|%-%") == "%|%"         # any flags on %% still print %
    assert fmt("%.d %d", 1) == "%.d 1"     # ".d" needs digits: literal
    assert fmt("%0-5d %d", 2) == "%0-5d 2"  # flags must come in -+ #0 order
    assert fmt("%qd", ) == "%qd"
    assert fmt("a%%b%dc%%", 1) == "a%b1c%"


def test_invalid_conversion_is_embedded():
    assert fmt("%d|", "abc") == "!{invalid integer conversion: abc}|"
    assert fmt("%p", (1, 2)) == "!{invalid integer conversion: (1, 2)}"
    assert fmt("%gr", True) == "!{invalid GFP flags conversion: true}"


def test_gfp_flags():
    assert gfp_flags(0) == "0"
    assert gfp_flags(0xcc0) == "GFP_KERNEL"
    assert gfp_flags(0x400cc0) == "GFP_KERNEL_ACCOUNT"
    assert gfp_flags(0xcc0 | 0x100) == "GFP_KERNEL|__GFP_ZERO"
    assert gfp_flags(0x8 | 0x10) == "0x18"   # MOVABLE/RECLAIMABLE have no name
    assert gfp_flags(0x820) == "GFP_ATOMIC"
    assert fmt("%10gr|", 0x1) == "   GFP_DMA|"
