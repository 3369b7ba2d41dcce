"""Output is flushed by line, as bpftrace's default buffering: a printf
without a newline waits for the next newline (or the exit)."""

import io

from pytrace.runtime.output import text as text_format
from pytrace.runtime.output.writer import Writer


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_partial_lines_wait_for_a_newline():
    out = _CountingStream()
    w = Writer(text_format, out, io.StringIO())
    w.printf_text("begin")
    w.flush_batch()
    assert (out.getvalue(), out.flushes) == ("begin", 0)
    w.printf_text("-end\n")
    w.flush_batch()
    assert (out.getvalue(), out.flushes) == ("begin-end\n", 1)


def test_stderr_is_flushed_at_once():
    err = _CountingStream()
    w = Writer(text_format, io.StringIO(), err)
    w.warning("no newline")
    assert err.flushes == 1
