"""The probe-provider interface.

A provider owns one probe type end to end on the language side: it parses
its attach-point syntax, expands wildcards, names the variables it offers
(`args`, `argN`, `retval`, `func`...) and where they live in the program's
context, says which BPF program type runs the probe, and describes how to
attach it as a plain dict the runtime's attachers understand (the runtime
has one attacher per kernel mechanism, keyed by the dict's "kind").
"""

from __future__ import annotations

from dataclasses import field
from pytrace.lang.records import record
from typing import Any

from pytrace.lang import types as T


# The values of ProbeProvider.runs_at: "" for probes fired by kernel events, else when the runtime runs them.
RUNS_AT = ("", "BEGIN", "END", "SIGNAL", "TEST", "BENCH")


class ProbeError(Exception):
    """A user mistake in an attach point: becomes a diagnostic on its span."""

    def __init__(self, message: str, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.hints = hints or []


class NoMatches(ProbeError):
    """An attach point that matches nothing: an error, a warning or nothing,
    as the `missing_probes` config says (`what`: "tracepoint syscalls:nonsense").
    A wildcard matching nothing (`wildcard`) is dropped without a word, as
    bpftrace drops it; its probe may be left with no attach points (the
    missing_probes pass)."""

    def __init__(self, what: str, hints: list[str] | None = None, wildcard: bool = False) -> None:
        super().__init__(f"No matches for {what}.", hints)
        self.what = what
        self.wildcard = wildcard


@record
class ContextVar:
    """A provider variable, described as data for codegen (codegen/ctxvar.py).

    By default it is `load_size` bytes (the type's size when None) at byte
    `offset` of the program's context, extended to 64 bits with `signed`
    (the type's signedness when None). Two other kinds:
      * `const` set: a constant (an int, or a str for a string type);
      * `deref` set: the context holds a user address at `offset` (a saved
        register); the value is `load_size` bytes of user memory at that
        address + `deref` (USDT arguments such as `8@-16(%rbp)`);
      * `whole_context`: the context pointer itself (iter's `ctx`)."""

    type: T.Type
    offset: int = 0
    load_size: int | None = None
    signed: bool | None = None
    const: int | str | None = None
    deref: int | None = None
    whole_context: bool = False

    @property
    def size(self) -> int:
        return self.load_size or self.type.size

    @property
    def is_signed(self) -> bool:
        return T.is_signed(self.type) if self.signed is None else self.signed


@record
class ProbeSpec:
    """One concrete (wildcard-expanded) attach point."""

    provider: str  # canonical provider name
    name: str  # full probe name, as the `probe` builtin prints it
    target: dict[str, Any] = field(default_factory=dict)  # provider's parsed fields
    attach: dict[str, Any] = field(default_factory=dict)  # what the runtime attacher needs
    # The lang.kernel_view.KernelView it was expanded against (set by the bind_probes pass).
    kernel: Any = field(default=None, compare=False, repr=False)
    # False when the expansion read running processes (/proc/PID/maps): a
    # compiled program holding it is not cached, as those change.
    cacheable: bool = True


class ProbeProvider:
    """One probe type. Everything the compiler and the runtime need to know
    about it is declared here, as class attributes or methods; no other
    module keeps lists of provider names. A new probe type is a subclass in
    its own module, added to the registry (lang/probes/__init__.py).

    Declared properties (class attributes, defaults below):
      name, aliases      `name:...` and its short forms in attach points.
      doc                one line for `-l`-style help.
      prog_type          which BPF program type runs the probe: a key of the
                         runtime's program-type table (runtime/loader.py):
                         "tracepoint", "kprobe", "perf_event",
                         "raw_tracepoint" or "tracing".
      attach_kind        the attach mechanism: the "kind" of every attach dict
                         expand() makes, a key of the runtime's attacher table
                         (runtime/attach.py), e.g. "kprobe", "uprobe",
                         "perf_event", "test_run".
      runs_at            "BEGIN"/"END": the probe has no kernel event; the
                         runtime runs it once with BPF_PROG_TEST_RUN before the
                         first / after the last event. "SIGNAL": run so on each
                         SIGUSR1; "TEST"/"BENCH": run so only by --test/--bench.
                         "" for event probes.
      addrspace          where pointers without a declared address space point
                         (an integer cast to a pointer, str(arg0)...): "kernel",
                         "user" (uprobes), or "any" (a kernel function's
                         argument may point to user memory: str() then reads
                         with the helper that tries both).
      pt_regs_context    the program's context is a saved `struct pt_regs`, so
                         reg("name") can read a register.
      pid_predicate      with -p/-c, add `pid == PID` in front of the probe's
                         predicate, because its attach mechanism cannot filter
                         by process itself.
      program_per_attach_point
                         every attach point gets its own program, whatever the
                         probe uses (fentry: a program is loaded for one
                         function). Otherwise one program serves all of a
                         probe's attach points unless it uses a builtin whose
                         value differs between them.
      warn_never_fired   non-empty: when a probe of this type attached but never
                         ran, warn that its function may have been inlined,
                         calling the probe this ("kprobe", "fentry"). "" for
                         no such warning.
      single_attach_point
                         a probe lists at most one attach point of this type (iter).
      ctx_null_ends_run  a null pointer read from the context ends the program's
                         run (iter: the kernel's last call carries no object).
      fires_newest_first
                         when several probes of this type are attached to one
                         event, the kernel runs the one attached last first
                         (uprobes, usdt, kprobes, fentry/fexit: bpftrace's
                         attach_reverse()). The runtime attaches these in
                         reverse, after all the others, so that the probes
                         still run in the order the script declares them.
      printf_to          where printf() writes: "events" (the ring buffer, as
                         every event) or "seq_file" (bpf_seq_printf into the
                         iterator's output: iter).
      variable_names     the variables the provider offers (`args`, `argN`,
                         `retval`, `func`...), for the resolve pass and docs;
                         where each lives is variable()/args_type().

    Methods: expand() (required), variable(), args_type(), named_type(), load_as(), load_shared(),
    unavailable_reason(), alternative_hint(), list_probes(), completions()."""

    name: str = ""
    aliases: tuple[str, ...] = ()
    doc: str = ""
    prog_type: str = ""
    attach_kind: str = ""
    runs_at: str = ""
    addrspace: str = "kernel"
    pt_regs_context: bool = False
    pid_predicate: bool = False
    program_per_attach_point: bool = False
    warn_never_fired: str = ""
    single_attach_point: bool = False
    ctx_null_ends_run: bool = False
    fires_newest_first: bool = False
    printf_to: str = "events"
    variable_names: tuple[str, ...] = ()

    def expand(self, parts: list[str], raw: str) -> list[ProbeSpec]:
        """Parse the parts after `provider:` and expand wildcards.

        Raise ProbeError for malformed attach points or when nothing matches."""
        raise NotImplementedError

    def expand_in(self, kernel: Any, parts: list[str], raw: str) -> list[ProbeSpec]:
        """expand() against a kernel (a lang.kernel_view.KernelView): what a
        provider that reads the kernel (tracepoints, kernel functions, BTF)
        overrides instead of expand()."""
        return self.expand(parts, raw)

    def expand_with(self, kernel: Any, parts: list[str], raw: str, options: Any) -> list[ProbeSpec]:
        """expand_in() knowing the compile options (a lang.options.Options:
        the -p process, --unsafe): what user-space providers override, since
        the process decides which binaries a probe names."""
        return self.expand_in(kernel, parts, raw)

    def variable(self, name: str, spec: ProbeSpec) -> ContextVar | None:
        """Where a provider variable lives for this probe (None: not offered)."""
        return None

    def args_type(self, spec: ProbeSpec) -> T.RecordType | None:
        """The record type of `args` for this probe, if the provider has one
        (ProbeError: it has none for this attach point, and says why)."""
        return None

    def named_type(self, name: str, spec: ProbeSpec) -> T.Type | None:
        """A type named in the program that this probe's target defines
        (a uprobe binary's DWARF structs), after the script's own."""
        return None

    def load_as(self, spec: ProbeSpec, calls: set[str]) -> tuple[str, dict]:
        """The program type (a key of the runtime's table) and attach dict this
        attach point is loaded with, knowing the functions its probe calls
        (rawtracepoint: tp_btf for a helper taking a BTF-typed pointer)."""
        return self.prog_type, spec.attach

    def load_shared(self, specs: list[ProbeSpec], calls: set[str]) -> tuple[str, list[dict]]:
        """The program type and attach dicts of one program that serves all these
        attach points of a probe (its body uses nothing that differs between
        them): by default each one's load_as(). A provider whose kernel mechanism
        attaches one program to many places at once (uprobe_multi) merges them."""
        loads = [self.load_as(s, calls) for s in specs]
        return loads[0][0], [attach for _, attach in loads]

    def unavailable_reason(self) -> str | None:
        """Why this kernel cannot attach this probe type (None: it can)."""
        return None

    def alternative_hint(self, spec: ProbeSpec) -> str | None:
        """A probe to suggest when this one cannot attach here."""
        return None

    def list_probes(self, pattern: str = "*", verbose: bool = False) -> list[str]:
        """`-l [PATTERN]`: the full names of this type's probes matching the
        (canonical-provider) pattern, each followed, when verbose, by its
        arguments as indented lines. A provider that cannot list returns []."""
        return []

    def listed_name(self, spec: ProbeSpec) -> str | None:
        """`-l -e PROG` / `-l FILE`: how an attach point of the program is listed,
        as `-l` lists this type's probes (None: not listed, as bpftrace lists no
        watchpoint and no BEGIN/END). By default its name, if the type is listable."""
        return spec.name if self.listable else None

    def list_probes_in(self, pattern: str, verbose: bool, pid: int | None) -> list[str]:
        """list_probes() knowing the -p process (user-space providers list
        what it maps)."""
        return self.list_probes(pattern, verbose)

    def completions(self, fields: list[str]) -> list[str]:
        """The REPL's Tab completion of an attach point: candidates for the last
        of `fields` (the fields typed after `name:`, the last one partial), the
        earlier ones given. A field that is followed by another ends in ':'."""
        return []

    @property
    def listable(self) -> bool:
        """Whether `-l` can list this probe type (it defines list_probes)."""
        return type(self).list_probes is not ProbeProvider.list_probes


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
    and `:` inside a path's quoted section; inside quotes a backslash takes
    the next character as is (`"\\"probe\\""` is `"probe"`)."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    chars = iter(raw)
    for ch in chars:
        if ch == '"':
            quoted = not quoted
            continue
        if quoted and ch == "\\":
            cur.append(next(chars, ""))
            continue
        if ch == ":" and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts[0], parts[1:]
