"""The probe-provider interface.

A provider owns one probe type end to end on the language side: it parses
its attach-point syntax, expands wildcards, names the variables it offers
(`args`, `argN`, `retval`, `func`...) and where they live in the program's
context, says which BPF program type runs the probe, and describes how to
attach it as a plain dict the runtime's attachers understand (the runtime
has one attacher per kernel mechanism, keyed by the dict's "kind").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytrace.lang import types as T


class ProbeError(Exception):
    """A user mistake in an attach point: becomes a diagnostic on its span."""

    def __init__(self, message: str, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.hints = hints or []


@dataclass
class ContextVar:
    """A provider variable, described as data for codegen (codegen/ctxvar.py).

    By default it is `load_size` bytes (the type's size when None) at byte
    `offset` of the program's context, extended to 64 bits with `signed`
    (the type's signedness when None). Two other kinds:
      * `const` set: a constant (an int, or a str for a string type);
      * `deref` set: the context holds a user address at `offset` (a saved
        register); the value is `load_size` bytes of user memory at that
        address + `deref` (USDT arguments such as `8@-16(%rbp)`)."""

    type: T.Type
    offset: int = 0
    load_size: int | None = None
    signed: bool | None = None
    const: int | str | None = None
    deref: int | None = None

    @property
    def size(self) -> int:
        return self.load_size or self.type.size

    @property
    def is_signed(self) -> bool:
        return T.is_signed(self.type) if self.signed is None else self.signed


@dataclass
class ProbeSpec:
    """One concrete (wildcard-expanded) attach point."""

    provider: str  # canonical provider name
    name: str  # full probe name, as the `probe` builtin prints it
    target: dict[str, Any] = field(default_factory=dict)  # provider's parsed fields
    attach: dict[str, Any] = field(default_factory=dict)  # what the runtime attacher needs
    # The lang.kernel_view.KernelView it was expanded against (set by the bind_probes pass).
    kernel: Any = field(default=None, compare=False, repr=False)


class ProbeProvider:
    name: str = ""
    aliases: tuple[str, ...] = ()
    prog_type: str = ""  # key of codegen/runtime's program-type table
    # Variables this provider offers, for the resolve pass and the docs.
    variable_names: tuple[str, ...] = ()
    # The longest part count `provider:a:b` accepts, for diagnostics.
    doc: str = ""

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        """Parse the parts after `provider:` and expand wildcards.

        Raise ProbeError for malformed attach points or when nothing matches."""
        raise NotImplementedError

    def expand_in(self, kernel: Any, parts: list[str], raw: str) -> list[ProbeSpec]:
        """expand() against a kernel (a lang.kernel_view.KernelView): what a
        provider that reads the kernel (tracepoints, kernel functions, BTF)
        overrides instead of expand()."""
        return self.expand(parts, raw)

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        """Where a provider variable lives for this probe (None: not offered)."""
        return None

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        """The record type of `args` for this probe, if the provider has one."""
        return None

    def unavailable_reason(self) -> str | None:
        """Why this kernel cannot attach this probe type (None: it can)."""
        return None

    def alternative_hint(self, spec: ProbeSpec) -> str | None:
        """A probe to suggest when this one cannot attach here."""
        return None

    # `-l [PATTERN]`: a provider that can list its probes defines
    #     list_probes(self, pattern: str, verbose: bool) -> list[str]
    # returning the full names matching the (canonical-provider) pattern, each
    # followed, when verbose, by its arguments as indented lines.


def list_matching(names, pattern: str) -> list[str]:
    """Names matching a `-l` pattern, in order, without duplicates."""
    import fnmatch

    seen: dict[str, None] = {}
    for n in names:
        if fnmatch.fnmatchcase(n, pattern):
            seen[n] = None
    return list(seen)


def lists_provider(provider: ProbeProvider, pattern: str) -> bool:
    """Whether a `-l` pattern's provider part matches this provider."""
    import fnmatch

    return fnmatch.fnmatchcase(provider.name, pattern.split(":", 1)[0])


def module_and_function(provider: str, parts: list[str]) -> tuple[str, str]:
    """`[MODULE:]FUNC` attach points (kprobe, fentry...): (module or "", func)."""
    if len(parts) == 2:
        module, target = parts
    elif len(parts) == 1:
        module, target = "", parts[0]
    else:
        raise ProbeError(f"{provider} probe must be {provider}:[MODULE:]FUNC")
    if not target:
        raise ProbeError(f"{provider} probe needs a function name")
    return module, target


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def split_attach_point(raw: str) -> tuple[str, list[str]]:
    """`provider:a:b` -> ("provider", ["a", "b"]), keeping quoted parts whole
    and `:` inside a path's quoted section."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
            continue
        if ch == ":" and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts[0], parts[1:]
