"""The REPL's terminal front (runtime/repl.py uses it when stdin and stdout
are a terminal), on prompt_toolkit:

* persistent history in `$XDG_STATE_HOME/pytrace/history` (default
  `~/.local/state/pytrace/history`);
* multi-line editing: Enter inserts a newline until the definition's braces
  balance (or, with no braces, on an empty line), then submits; Esc Enter
  submits at once; a dot-command submits on Enter;
* syntax highlighting (probe types, keywords, builtins, maps, variables,
  strings, numbers, comments);
* Tab completion of probe types, tracepoint categories and events, kernel
  functions (from BTF), builtins and functions (with their signatures), the
  map names of the running programs and of the definition being typed, and
  dot-commands;
* output of the running programs printed above the prompt (patch_stdout).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.styles import Style

from pytrace.lang import builtins, probes

if TYPE_CHECKING:
    from pytrace.runtime.repl import Repl

MAX_COMPLETIONS = 300
KEYWORDS = {"if", "else", "while", "for", "unroll", "return", "break", "continue", "config", "let", "macro",
            "import", "sizeof", "offsetof", "struct", "union", "enum"}

STYLE = Style.from_dict({
    "probe": "ansicyan bold", "keyword": "ansimagenta bold", "builtin": "ansiblue", "map": "ansiyellow",
    "variable": "ansigreen", "string": "ansired", "number": "ansibrightblue", "comment": "ansibrightblack italic",
})


def history_path() -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "pytrace", "history")


# ------------------------------------------------------------ highlighting

_TOKENS = re.compile(r"""
    (?P<comment>//.*|/\*.*?(\*/|$))
  | (?P<string>"(\\.|[^"\\])*"?)
  | (?P<map>@\w*)
  | (?P<variable>\$\w+)
  | (?P<number>\b(0x[0-9a-fA-F]+|\d+)\w*)
  | (?P<probe>^\s*\w+(?=:)|\b(BEGIN|END)\b)
  | (?P<word>\b[A-Za-z_]\w*\b)
""", re.VERBOSE)


def _word_style(word: str) -> str:
    if word in KEYWORDS:
        return "class:keyword"
    if word in builtins.VARIABLES or word in builtins.FUNCTIONS:
        return "class:builtin"
    return ""


def highlight(line: str) -> list[tuple[str, str]]:
    """(style, text) fragments of one line."""
    out, pos = [], 0
    for m in _TOKENS.finditer(line):
        if m.start() > pos:
            out.append(("", line[pos:m.start()]))
        kind = m.lastgroup
        out.append((_word_style(m.group()) if kind == "word" else f"class:{kind}", m.group()))
        pos = m.end()
    if pos < len(line):
        out.append(("", line[pos:]))
    return out


class BpftraceLexer(Lexer):
    def lex_document(self, document: Document):
        lines = document.lines
        return lambda i: highlight(lines[i]) if i < len(lines) else []


# ------------------------------------------------------------ completion

@lru_cache(maxsize=64)
def _attach_point_candidates(kind: str, earlier: tuple[str, ...]) -> list[str]:
    """What the probe type `kind` completes after `kind:EARLIER:...:` (its provider says)."""
    provider = probes.lookup(kind)
    if provider is None:
        return []
    try:
        return provider.completions([*earlier, ""])
    except OSError:
        return []


def _probe_types() -> list[tuple[str, str]]:
    """(name, doc) of every probe type (aliases too)."""
    out = []
    for name in probes.all_names():
        provider = probes.lookup(name)
        out.append((name, provider.doc if provider is not None else ""))
    return out


def _builtins() -> list[tuple[str, str, str]]:
    """(name, what the menu shows, its doc) of every builtin variable and function."""
    out = [(v.name, v.name, v.doc) for v in builtins.VARIABLES.values()]
    out += [(f.name, f.signature, f.doc) for f in builtins.FUNCTIONS.values()]
    return sorted(out)


class ReplCompleter(Completer):
    def __init__(self, repl: "Repl") -> None:
        self.repl = repl

    def get_completions(self, document: Document, complete_event) -> Iterator[Completion]:
        from pytrace.runtime.repl import brace_depth

        before = document.text_before_cursor
        if before.lstrip().startswith(".") and " " not in before.strip():
            yield from self._dot_commands(before.strip())
            return
        depth, _ = brace_depth(before)
        if depth > 0:  # in a probe's body
            word = re.search(r"[@$\w]*$", before).group()
            if word.startswith("@"):
                yield from self._maps(word, document.text)
            elif word and not word.startswith("$"):
                yield from self._builtins(word)
            return
        spec = re.search(r"[\w:*.\-/+]*$", before).group()
        yield from self._attach_point(spec)

    def _dot_commands(self, word: str) -> Iterator[Completion]:
        for name, doc in self.repl.command_help():
            if name.startswith(word):
                yield Completion(name, -len(word), display_meta=doc)

    def _maps(self, word: str, text: str) -> Iterator[Completion]:
        names = set(re.findall(r"@\w*", text)) - {word}
        for entry in list(self.repl.entries.values()):
            names.update(entry.probes.map_names)
        for name in sorted(names):
            if name.startswith(word):
                yield Completion(name, -len(word), display_meta="map")

    def _builtins(self, word: str) -> Iterator[Completion]:
        for name, shown, doc in _builtins():
            if name.startswith(word):
                yield Completion(name, -len(word), display=shown, display_meta=doc)

    def _attach_point(self, spec: str) -> Iterator[Completion]:
        parts = spec.split(":")
        if len(parts) == 1:
            for name, doc in _probe_types():
                if name.startswith(spec):
                    yield Completion(name if name in ("BEGIN", "END", "begin", "end") else name + ":", -len(spec),
                                     display=name, display_meta=doc)
            return
        kind, last = parts[0], parts[-1]
        candidates = _attach_point_candidates(kind, tuple(parts[1:-1]))
        shown = 0
        for candidate in candidates:
            if candidate.startswith(last):
                yield Completion(candidate, -len(last))
                shown += 1
                if shown >= MAX_COMPLETIONS:
                    return


# ------------------------------------------------------------ the prompt

def _key_bindings(submit_ready) -> KeyBindings:
    keys = KeyBindings()

    @keys.add("enter")
    def _(event):
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
            buffer.apply_completion(buffer.complete_state.current_completion)
            return
        if submit_ready(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @keys.add("escape", "enter")
    def _(event):
        event.current_buffer.validate_and_handle()

    return keys


def ready(text: str) -> bool:
    """Whether Enter submits: a dot-command, a definition whose braces
    balance, or one without braces that ends with an empty line."""
    from pytrace.runtime.repl import brace_depth

    stripped = text.strip()
    if not stripped:
        return True
    if stripped.startswith("."):
        return True
    depth, opened = brace_depth(text)
    if opened:
        return depth <= 0
    return text.endswith("\n")


class Prompt:
    """Reads one command or one probe definition at a time."""

    def __init__(self, repl: "Repl", prompt: str, continuation: str) -> None:
        path = history_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.session = PromptSession(
            history=FileHistory(path), multiline=True, lexer=BpftraceLexer(), style=STYLE,
            completer=ReplCompleter(repl), complete_while_typing=False, key_bindings=_key_bindings(ready),
            prompt_continuation=lambda width, line, wrap: continuation)
        self.prompt = prompt

    def read(self) -> str | None:
        """The text typed (None at Ctrl-D); Ctrl-C cancels it and reads again."""
        while True:
            try:
                text = self.session.prompt(self.prompt)
            except KeyboardInterrupt:
                continue
            except EOFError:
                return None
            if text.strip():
                return text.strip() if text.strip().startswith(".") else text.strip() + "\n"

    @contextmanager
    def output_above(self):
        """While the prompt runs, what other threads print goes above it."""
        with patch_stdout(raw=True):
            yield
