"""Where output goes: one Writer per run, over the text or JSON formatter
modules (which share their function names), to stdout or `-o FILE`."""

from __future__ import annotations

import sys
from io import TextIOBase as TextIO

from pytrace.runtime.output import text as text_format


FORMATS = {"text": "text", "json": "json", "folded": "folded"}  # -f FORMAT: its module here, imported when chosen
BUFFERING = ("line", "full", "none")  # -B: flush at each newline, when the buffer fills, or after every write


class Writer:
    def __init__(self, fmt, out: TextIO, err: TextIO, quiet: bool = False, owns_out: bool = False,
                 flush: bool = True, warnings: bool = True, by_line: bool = True) -> None:
        self.fmt = fmt
        self.out = out
        self.err = err
        self.quiet = quiet
        self.owns_out = owns_out
        self.is_json = fmt.__name__ == "pytrace.runtime.output.json"
        self._batch: list[str] = []  # printf text of the current ring buffer drain (printf_text)
        self.flush = flush  # after every write; False: -B full (the stream's own buffer decides)
        self.by_line = by_line  # -B line: only writes holding a newline flush
        self.warnings = warnings  # False: --no-warnings

    @classmethod
    def open(cls, format_name: str, path: str | None = None, quiet: bool = False, buffering: str = "line",
             warnings: bool = True) -> "Writer":
        fmt = text_format if format_name == "text" else _format_module(format_name)
        flush = buffering != "full"
        # Kernel strings are bytes: ones that are not UTF-8 are written back unchanged.
        if path:
            return cls(fmt, open(path, "w", buffering=1 if flush else -1, errors="surrogateescape"), sys.stderr,
                       quiet, owns_out=True, flush=flush, warnings=warnings, by_line=buffering == "line")
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(errors="surrogateescape")
        return cls(fmt, sys.stdout, sys.stderr, quiet, flush=flush, warnings=warnings, by_line=buffering == "line")

    def _write(self, stream: TextIO, text: str) -> None:
        if self._batch:
            self.flush_batch()
        if text:
            stream.write(text)
            self._flush(stream, text)

    def printf_text(self, text: str) -> None:
        """A formatted printf of the current drain: written in one go by flush_batch()."""
        self._batch.append(self.fmt.format_printf_event(text))

    def flush_batch(self) -> None:
        """Write and flush the drain's printf output (called after each drain)."""
        if self._batch:
            text = "".join(self._batch)
            self._batch.clear()
            self.out.write(text)
            self._flush(self.out, text)

    def _flush(self, stream: TextIO, text: str) -> None:
        """-B line (bpftrace's default) flushes when a newline was written:
        `printf("%s", x)` waits for the next newline or the exit; -B none
        after every write; -B full when the buffer fills."""
        if stream is self.err or (self.flush and ("\n" in text or not self.by_line)):
            stream.flush()

    def _stream(self, which: str) -> TextIO:
        return self.err if which == "stderr" and not self.is_json else self.out

    def attached(self, n: int) -> None:
        if not self.quiet:
            self._write(self._stream(text_format.ATTACH_STREAM), self.fmt.attached_probes(n))

    def printf(self, segments, args: list) -> None:
        from pytrace.runtime.output.printf import format_printf

        self._write(self.out, self.fmt.format_printf_event(format_printf(segments, args)))

    def value(self, v) -> None:
        self._write(self.out, self.fmt.format_value(v))

    def map(self, m, top: int = 0, div: int = 1) -> None:
        self._write(self.out, self.fmt.format_map(m, top, div))

    def exit_maps(self, maps: list) -> None:
        self._write(self.out, self.fmt.format_exit(maps))

    def text_event(self, kind: str, text: str) -> None:
        """time(), cat(), join() and system() output ("syscall" is system's)."""
        self._write(self.out, getattr(self.fmt, kind + "_event")(text))

    def test_result(self, names: list[str], index: int, duration_ns: int, passed: list[bool], output: str) -> None:
        self._write(self.out, self.fmt.test_result(names, index, duration_ns, passed, output))

    def benchmark_result(self, names: list[str], index: int, average_ns: int, iters: int) -> None:
        self._write(self.out, self.fmt.benchmark_result(names, index, average_ns, iters))

    def warning(self, text: str) -> None:
        """A run-time warning (e.g. a map is full), on stderr (none with --no-warnings)."""
        if self.warnings or not text.startswith("WARNING"):
            self._write(self.err, text)

    def helper_error(self, helper: str, retcode: int, source: dict) -> None:
        """A BPF helper failed at run time: bpftrace's warning (stderr; JSON: its helper_error record, stdout)."""
        if not self.warnings:
            return
        if self.is_json:
            self._write(self.out, self.fmt.helper_error_event(helper, retcode, source))
        else:
            self._write(self.err, text_format.helper_error_event(helper, retcode, source))

    def message(self, severity: str, text: str, source: dict) -> None:
        """errorf()/warnf(): text as an error or warning at the call (stderr; JSON: stdout)."""
        if severity == "WARNING" and not self.warnings:
            return
        if self.is_json:
            self._write(self.out, self.fmt.message_event(severity, text, source))
        else:
            self._write(self.err, text_format.message_event(severity, text, source))

    def lost(self, n: int) -> None:
        self._write(self._stream(text_format.LOST_EVENTS_STREAM), self.fmt.lost_events(n))

    def total_lost(self, n: int) -> None:
        """At exit, when any event was lost (stderr in both formats, as bpftrace)."""
        if n:
            self._write(self.err, text_format.total_lost_events(n))

    def close(self) -> None:
        self.flush_batch()
        self.out.flush()
        if self.owns_out:
            self.out.close()


def _format_module(format_name: str):
    """An output format's module (runtime/output/NAME.py), imported when chosen."""
    import importlib

    return importlib.import_module(f"pytrace.runtime.output.{FORMATS.get(format_name, 'text')}")
