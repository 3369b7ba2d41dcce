"""printf-style format strings, as current bpftrace parses them
(src/format_string.cpp).  Pure Python, no runtime imports.

bpftrace finds conversions with one regular expression and leaves anything
that does not match (``%k``, a trailing ``%``, ``%.d``, flags out of order
like ``%0-5d``) in the output as literal text -- there is no parse error.
The errors all come from checking the arguments against the conversions
(check_args), worded exactly as FormatString::check words them; bpftrace
reports them as an error on the call (``stdin:L:C-C: ERROR: <message>``).
"""

from __future__ import annotations

# N.B. the `gr`, `r`, `rh` and `rx` specifiers are non-standard; ordering in
# the alternation matters (`gr` before `g`, `rh`/`rx` before `r`). Compiled on the
# first parse: a cached program's start rebuilds its segments (from_plain) without `re`.
SPEC_PATTERN = (r"%(-?)(\+?)( ?)(#?)(0?)(\*|[0-9]+)?(?:\.(\*|[0-9]+))?([hlLjzt]*)"
                r"([diouxXeEfFGaAcspn%]|gr|g|rh|rx|r)")
_spec_re = None


class Segment:
    """Literal text (conv is None) or one conversion.

    For literals ``text`` is the text to print (``%%`` already turned into
    ``%``).  For conversions: ``flags`` is the subset of "-+ #0" present (in
    that order), ``width``/``precision`` are None when absent or ``*``
    (bpftrace ignores ``*`` and it consumes no argument), ``length`` is the
    length modifier (any run of hlLjzt), ``conv`` the specifier ("d", "s",
    "gr", ...).  ``start``/``end`` are offsets into the format string (str
    indexes, end exclusive).

    A plain immutable class rather than a record: a cached program's start makes
    its printf segments from their plain tuples (`plain()`, `from_plain()`) without
    importing `dataclasses`.
    """
    __slots__ = ("start", "end", "text", "conv", "flags", "width", "precision", "length")

    def __init__(self, start: int, end: int, text: str = '', conv: str | None = None, flags: str = '',
                 width: int | None = None, precision: int | None = None, length: str = '') -> None:
        for name, value in zip(self.__slots__, (start, end, text, conv, flags, width, precision, length)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"Segment is immutable: cannot set {name}")

    def plain(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    @classmethod
    def from_plain(cls, fields) -> "Segment":
        return cls(*fields)

    def __eq__(self, other) -> bool:
        return type(other) is Segment and self.plain() == other.plain()

    def __hash__(self) -> int:
        return hash(self.plain())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self.__slots__, self.plain()))
        return f"Segment({shown})"

    @property
    def is_literal(self) -> bool:
        return self.conv is None

    @property
    def left_align(self) -> bool:
        return '-' in self.flags

    @property
    def show_sign(self) -> bool:
        return '+' in self.flags

    @property
    def space_prefix(self) -> bool:   # parsed, never applied by bpftrace
        return ' ' in self.flags

    @property
    def alternate_form(self) -> bool:
        return '#' in self.flags

    @property
    def lead_zeros(self) -> bool:
        return '0' in self.flags


FormatError = tuple  # (message, start, end)


def parse_format(fmt: str) -> tuple[list[Segment], FormatError | None]:
    """Split ``fmt`` into literal and conversion segments.

    Always returns error None: current bpftrace has no format-string parse
    errors (unknown conversions stay literal).  The slot is kept so callers
    need not change if that ever changes."""
    segments: list[Segment] = []
    lit: list[str] = []
    lit_start = 0
    pos = 0

    def flush(end):
        if lit:
            segments.append(Segment(lit_start, end, text=''.join(lit)))
            lit.clear()

    global _spec_re
    if _spec_re is None:
        import re

        _spec_re = re.compile(SPEC_PATTERN)
    for m in _spec_re.finditer(fmt):
        if m.start() > pos:
            if not lit:
                lit_start = pos
            lit.append(fmt[pos:m.start()])
        pos = m.end()
        if m.group(9) == '%':
            if not lit:
                lit_start = m.start()
            lit.append('%')
            continue
        flush(m.start())
        width = m.group(6)
        prec = m.group(7)
        segments.append(Segment(
            m.start(), m.end(), conv=m.group(9),
            flags=''.join(m.group(i) for i in range(1, 6)),
            width=int(width) if width and width != '*' else None,
            precision=int(prec) if prec and prec != '*' else None,
            length=m.group(8)))
    if pos < len(fmt):
        if not lit:
            lit_start = pos
        lit.append(fmt[pos:])
    flush(len(fmt))
    return segments, None


def conversions(segments) -> list[Segment]:
    return [s for s in segments if s.conv is not None]


def conversion_count(segments) -> int:
    return len(conversions(segments))


# Argument kinds, as the type checker classifies an argument's type:
#   'int' (any integer, enums included), 'bool', 'ptr', 'str', 'buffer',
#   'none', 'void', and anything else ('tuple', 'record', 'array', 'float',
#   'ksym', ...) which only %s accepts.
ANY_INTEGER = ('int', 'bool', 'ptr')

# FormatString::check's required_type table.  None = anything goes.
# Specifiers matched by SPEC_PATTERN but missing here (f F e E g G a A n) are
# rejected as unsupported.
ACCEPTED_KINDS: dict[str, tuple | None] = {
    'd': ANY_INTEGER, 'i': ANY_INTEGER, 'u': ANY_INTEGER, 'o': ANY_INTEGER,
    'x': ANY_INTEGER, 'X': ANY_INTEGER, 'c': ANY_INTEGER,
    'r': ('buffer',), 'rx': ('buffer',), 'rh': ('buffer',),
    's': None,
    'p': ANY_INTEGER, 'gr': ANY_INTEGER,
}


def check_args(segments, args) -> str | None:
    """FormatString::check.  ``args``: one (kind, typestr) pair per argument
    after the format string, where typestr is bpftrace's typestr() of the
    argument type (e.g. 'string[4]', 'uint64', 'int8 *').  Returns the error
    message, or None when the call is fine."""
    specs = conversions(segments)
    if len(args) < len(specs):
        return (f"not enough arguments for format string ({len(args)} supplied, "
                f"{len(specs)} expected)")
    if len(args) > len(specs):
        return (f"too many arguments for format string ({len(args)} supplied, "
                f"{len(specs)} expected)")
    for spec, (kind, typestr) in zip(specs, args):
        if kind in ('none', 'void'):
            return f"unable to print none type for specifier: {spec.conv}"
        if spec.conv not in ACCEPTED_KINDS:
            return f"unsupported format specifier: {spec.conv}"
        allowed = ACCEPTED_KINDS[spec.conv]
        if allowed is not None and kind not in allowed:
            return f"unsupported format specifier for type '{typestr}': {spec.conv}"
    return None


# debugf() goes through bpf_trace_printk and is checked further
# (type_checker.cpp): at most 3 arguments, and only these specifiers, each
# with exactly this kind (Type::integer / Type::string; no bool or pointer).
DEBUGF_MAX_ARGS = 3
DEBUGF_TOO_MANY = f"cannot use more than {DEBUGF_MAX_ARGS} conversion specifiers"
DEBUGF_KINDS = {'d': 'int', 'u': 'int', 'x': 'int', 'p': 'int', 's': 'str'}


def check_debugf_args(segments, kinds) -> list[tuple[int, str]]:
    """Extra debugf() errors, after check_args passed.  Returns (where,
    message) pairs: where == -1 means the error is reported on the format
    string argument, else on argument ``where`` (0-based, after the
    format)."""
    errors = []
    for i, (spec, kind) in enumerate(zip(conversions(segments), kinds)):
        want = DEBUGF_KINDS.get(spec.conv)
        if want is None:
            errors.append((-1, f"Invalid format specifier for `debugf`: {spec.conv}"))
        elif kind != want:
            errors.append((i, f"Type does not match format specifier: {spec.conv}"))
    return errors
