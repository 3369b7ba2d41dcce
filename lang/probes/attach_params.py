"""Positional parameters in attach points: `interval:s:$1`, `uprobe:$1:func`,
`BEG$1`, `$1` (bpftrace expands them in the text before parsing the attach
point; a missing parameter is empty)."""

from __future__ import annotations

import re

from pytrace.lang.probes.base import ProbeError

_PARAM = re.compile(r'"(?:[^"\\]|\\.)*"?|\$(\d*)')


def expand_params(raw: str, params: list[str]) -> str:
    """`raw` with each `$N` outside quotes replaced by parameter N."""
    if "$" not in raw:
        return raw

    def replace(m: re.Match) -> str:
        digits = m.group(1)
        if digits is None:  # a quoted section: kept as written
            return m.group(0)
        if not digits or digits[0] == "0":
            after = raw[m.start() + 1:m.start() + 2]
            if after:
                raise ProbeError(f"invalid trailing character for positional param: {after}. Try quoting "
                                 f"this entire part if this is intentional e.g. \"${after}\".")
            raise ProbeError("positional parameter is not valid: empty string")
        index = int(digits)
        return params[index - 1] if index <= len(params) else ""

    return _PARAM.sub(replace, raw)
