"""User-facing errors and warnings, rendered the way bpftrace renders them:

    stdin:1:12-17: ERROR: Unknown function: foo
    kprobe:f { foo(); }
               ~~~~~
    HINT: did you mean ...

Passes record diagnostics; nothing raises for a user mistake. The pipeline
stops after a pass that recorded an error (see lang/passes/__init__.py).
"""

from __future__ import annotations

import sys
from io import TextIOBase as TextIO

from pytrace.lang.source import Span

ERROR = "ERROR"
WARNING = "WARNING"


class Diagnostic:
    def __init__(self, severity: str, message: str, span: Span | None = None, hints: list[str] | None = None,
                 label: str = "") -> None:
        self.severity = severity
        self.message = message
        self.span = span
        self.hints = hints if hints is not None else []
        # Where, when it is not in the program's text: "definitions.h:2:10" (a clang-style
        # message about the script's C definitions), printed as `LABEL: MESSAGE`.
        self.label = label

    def __repr__(self) -> str:
        return f"Diagnostic({self.severity!r}, {self.message!r}, {self.span!r}, {self.hints!r}, {self.label!r})"

    def render(self) -> str:
        lines = []
        if self.label:
            lines.append(f"{self.label}: {self.message}")
        elif self.span is not None:
            lines.append(f"{self.span.location()}: {self.severity}: {self.message}")
            lines.extend(self.span.context())
        elif self.message:  # (a message may be all hints: `-- --help` lists the program options)
            lines.append(f"{self.severity}: {self.message}")
        lines.extend(f"HINT: {h}" for h in self.hints)
        return "\n".join(lines) + "\n"


class Diagnostics:
    """An ordered collection of diagnostics; errors render before warnings."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, message: str, span: Span | None = None, hints: list[str] | None = None,
              label: str = "") -> Diagnostic:
        d = Diagnostic(ERROR, message, span, list(hints or []), label)
        self.items.append(d)
        return d

    def warning(self, message: str, span: Span | None = None, hints: list[str] | None = None) -> Diagnostic:
        d = Diagnostic(WARNING, message, span, list(hints or []))
        self.items.append(d)
        return d

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == WARNING]

    def has_errors(self) -> bool:
        return any(d.severity == ERROR for d in self.items)

    def render(self, warnings: bool = True) -> str:
        out = [d.render() for d in self.errors]
        if warnings:
            out += [d.render() for d in self.warnings]
        return "".join(out)

    def emit(self, stream: TextIO = sys.stderr, warnings: bool = True) -> None:
        stream.write(self.render(warnings))
        stream.flush()


class CompileError(Exception):
    """Raised by the driver (never by a pass) once a pass recorded errors."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        super().__init__(diagnostics.render())
        self.diagnostics = diagnostics
