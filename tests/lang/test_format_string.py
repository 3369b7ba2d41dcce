"""Format string parsing/checking as current bpftrace does it
(src/format_string.cpp FormatString::parse / check)."""

import pytest

from pytrace.lang.format_string import (
    ACCEPTED_KINDS, DEBUGF_TOO_MANY, Segment, check_args, check_debugf_args,
    conversion_count, parse_format)


def parse(f):
    segments, error = parse_format(f)
    assert error is None
    return segments


def test_segments():
    segs = parse("a %-08.3lld b %% %s")
    assert segs == [
        Segment(0, 2, text="a "),
        Segment(2, 11, conv="d", flags="-0", width=8, precision=3, length="ll"),
        Segment(11, 17, text=" b % "),
        Segment(17, 19, conv="s"),
    ]
    assert conversion_count(segs) == 2
    d = segs[1]
    assert d.left_align and d.lead_zeros and not d.show_sign and not d.is_literal
    assert segs[0].is_literal


def test_all_flags_and_star():
    (s,) = parse("%-+ #0*.*hhx")
    assert (s.flags, s.width, s.precision, s.length, s.conv) == ("-+ #0", None, None, "hh", "x")
    assert s.left_align and s.show_sign and s.space_prefix and s.alternate_form and s.lead_zeros


def test_nonstandard_specifiers():
    assert [s.conv for s in parse("%r%rx%rh%gr%g%G%n%e%a%F")] == \
        ["r", "rx", "rh", "gr", "g", "G", "n", "e", "a", "F"]
    s, rest = parse("%rxz")
    assert s.conv == "rx" and rest.text == "z"


def test_no_parse_errors_unmatched_text_is_literal():
    for f in ["%k", "100%", "%", "%.d", "%0-5d", "%qd", "%5"]:
        segs, error = parse_format(f)
        assert error is None
        assert conversion_count(segs) == 0
        assert "".join(s.text for s in segs) == f
    assert parse("") == []
    assert parse("%%") == [Segment(0, 2, text="%")]
    assert parse("%5%") == [Segment(0, 3, text="%")]


def test_check_counts():
    segs = parse("%d %s")
    assert check_args(segs, [("int", "int64"), ("str", "string[4]")]) is None
    assert check_args(segs, [("int", "int64")]) == \
        "not enough arguments for format string (1 supplied, 2 expected)"
    assert check_args(parse("%k\n"), [("int", "int64")]) == \
        "too many arguments for format string (1 supplied, 0 expected)"


def test_check_types():
    assert check_args(parse("%d"), [("str", "string[2]")]) == \
        "unsupported format specifier for type 'string[2]': d"
    assert check_args(parse("%x"), [("tuple", "(int64,string[3])")]) == \
        "unsupported format specifier for type '(int64,string[3])': x"
    assert check_args(parse("%r"), [("int", "uint64")]) == \
        "unsupported format specifier for type 'uint64': r"
    assert check_args(parse("%f"), [("int", "int64")]) == "unsupported format specifier: f"
    assert check_args(parse("%n"), [("int", "int64")]) == "unsupported format specifier: n"
    assert check_args(parse("%d"), [("none", "none")]) == "unable to print none type for specifier: d"
    assert check_args(parse("%s"), [("void", "void")]) == "unable to print none type for specifier: s"
    for conv in "d i u o x X c p gr".split():
        for kind in ("int", "bool", "ptr"):
            assert check_args(parse("%" + conv), [(kind, "t")]) is None
    for kind in ("int", "str", "tuple", "record", "buffer", "array"):
        assert check_args(parse("%s"), [(kind, "t")]) is None
    assert check_args(parse("%rh"), [("buffer", "buffer[4]")]) is None
    assert ACCEPTED_KINDS["s"] is None


def test_debugf():
    segs = parse("%d %s %c %d")
    assert check_debugf_args(segs, ["int", "int", "int", "bool"]) == [
        (1, "Type does not match format specifier: s"),
        (-1, "Invalid format specifier for `debugf`: c"),
        (3, "Type does not match format specifier: d"),
    ]
    assert DEBUGF_TOO_MANY == "cannot use more than 3 conversion specifiers"


@pytest.mark.parametrize("f,n", [("%d%d%d", 3), ("%%d", 0), ("%%%d", 1), ("x", 0)])
def test_conversion_count(f, n):
    assert conversion_count(parse(f)) == n
