"""Program text and positions in it.

A Span is a half-open range of character offsets into one Source. Line and
column numbers are 1-based, as bpftrace prints them; the end column is
exclusive, so `stdin:1:5-9` covers columns 5, 6, 7 and 8.
"""

from __future__ import annotations

# Plain classes rather than dataclasses: the CLI imports them at every start (see lang/options.py).


class Source:
    def __init__(self, name: str, text: str) -> None:
        self.name = name  # "stdin" for -e programs, else the file path
        self.text = text
        starts = [0]
        newline = text.find("\n")
        while newline >= 0:
            starts.append(newline + 1)
            newline = text.find("\n", newline + 1)
        self._line_starts = starts

    def __repr__(self) -> str:
        return f"Source(name={self.name!r}, text={self.text!r})"

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of a character offset."""
        from bisect import bisect_right  # (not at import: the CLI imports this module at every start)

        line = bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> "Span":
        return Span(self, start, end)


class Span:
    __slots__ = ("source", "start", "end")

    def __init__(self, source: Source, start: int, end: int) -> None:
        self.source = source
        self.start = start  # offset of the first character
        self.end = end  # offset one past the last character

    @property
    def begin_pos(self) -> tuple[int, int]:
        return self.source.position(self.start)

    @property
    def end_pos(self) -> tuple[int, int]:
        return self.source.position(max(self.start, self.end))

    def location(self) -> str:
        """bpftrace's `file:line:col-col` (or `file:line-line`) label."""
        (l1, c1), (l2, c2) = self.begin_pos, self.end_pos
        if l1 != l2:
            return f"{self.source.name}:{l1}-{l2}"
        return f"{self.source.name}:{l1}:{c1}-{c2}"

    def context(self) -> list[str]:
        """The source line(s) and, for one line, a `~~~` marker under the span."""
        (l1, c1), (l2, c2) = self.begin_pos, self.end_pos
        if l1 != l2:
            return [self.source.line_text(n).replace("\t", "    ") for n in range(l1, l2 + 1)]
        line = self.source.line_text(l1)
        marks = []
        for x, ch in enumerate(line):
            if x >= c2 - 1:
                break
            mark = " " if x < c1 - 1 else "~"
            marks.append(mark * 4 if ch == "\t" else mark)
        return [line.replace("\t", "    "), "".join(marks)]

    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def __add__(self, other: "Span | None") -> "Span":
        if other is None:
            return self
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"<Span {self.location()}>"
