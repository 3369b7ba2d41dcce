"""The REPL's prompt_toolkit front without a terminal: when Enter submits,
highlighting, and completion of probe types, builtins, maps and commands."""

from prompt_toolkit.document import Document

from pytrace.runtime import repl as repl_module
from pytrace.runtime.repl_prompt import ReplCompleter, highlight, history_path, ready


class FakeProgram:
    map_names = ["@calls", "@lat"]


class FakeProbes:
    program = FakeProgram()
    map_names = FakeProgram.map_names


class FakeEntry:
    probes = FakeProbes()


class FakeRepl:
    entries = {1: FakeEntry()}
    command_help = repl_module.Repl.command_help
    commands = {".list": None, ".save": None, ".export": None, ".quit": None}


def complete(text: str) -> list[tuple[str, str, str]]:
    completer = ReplCompleter(FakeRepl())
    return [(c.text, c.display_text, c.display_meta_text)
            for c in completer.get_completions(Document(text, len(text)), None)]


def test_enter_submits_when_braces_balance():
    assert not ready("tracepoint:a:b {")
    assert not ready('BEGIN { printf("}"); ')
    assert ready("BEGIN { @x = 1; }")
    assert ready(".maps 2") and ready("")
    assert not ready("BEGIN") and ready("BEGIN\n")


def test_highlighting():
    assert highlight('kprobe:f { @m[comm] = count(); $x = "s" // c') == [
        ("class:probe", "kprobe"), ("", ":"), ("", "f"), ("", " { "), ("class:map", "@m"), ("", "["),
        ("class:builtin", "comm"), ("", "] = "), ("class:builtin", "count"), ("", "(); "),
        ("class:variable", "$x"), ("", " = "), ("class:string", '"s"'), ("", " "), ("class:comment", "// c")]


def test_probe_types_and_builtins_with_signatures():
    assert complete("tracep") == [("tracepoint:", "tracepoint", "static kernel tracepoints: tracepoint:CATEGORY:EVENT")]
    assert [c[0] for c in complete("BEG")] == ["BEGIN"]
    assert ("strncmp", "strncmp(s1, s2, n)", "compare up to n bytes of two strings (0 when equal)") in \
        complete("BEGIN { $x = strn")


def test_maps_of_running_programs_and_of_the_text():
    assert [c[0] for c in complete("BEGIN { @mine = 1; @")] == ["@calls", "@lat", "@mine"]


def test_dot_commands():
    assert [c[0] for c in complete(".")] == [".export", ".list", ".quit", ".save"]
    assert complete(".sa")[0][2].startswith(".save FILE")


def test_history_path(monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", "/tmp/state")
    assert history_path() == "/tmp/state/pytrace/history"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", "/home/u")
    assert history_path() == "/home/u/.local/state/pytrace/history"
