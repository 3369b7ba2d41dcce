"""The writer flushes stdout per line, as bpftrace does: text without a newline waits."""

import io

from pytrace.runtime.output import text as text_format
from pytrace.runtime.output.writer import Writer


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_partial_line_is_not_flushed_until_a_newline():
    out, err = CountingStream(), CountingStream()
    w = Writer(text_format, out, err)
    w.printf_text("3412")
    w.flush_batch()
    assert out.flushes == 0
    w.printf_text("a\nb")
    w.flush_batch()
    assert out.flushes == 1
    assert out.getvalue() == "3412a\nb"


def test_stderr_is_flushed_at_once():
    out, err = CountingStream(), CountingStream()
    w = Writer(text_format, out, err)
    w.warning("no newline")
    assert err.flushes == 1
