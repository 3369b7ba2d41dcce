"""The REPL in a real terminal (tmux): completion menus, multi-line input,
live output above the prompt, .save and .export prometheus, history."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT

pytestmark = pytest.mark.kernel

SESSION = f"pytrace-repl-test-{os.getpid()}"
WORKLOAD = ("import ctypes, os; ctypes.CDLL(None).prctl(15, b'replwork', 0, 0, 0); "
            "[os.getppid() for _ in range(3)]")


def pane() -> str:
    return subprocess.run(["tmux", "capture-pane", "-t", SESSION, "-p", "-S", "-200"], capture_output=True,
                          text=True).stdout


def keys(*args: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", SESSION, *args], check=True)


def literal(text: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", SESSION, "-l", text], check=True)


def wait_for(pattern: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = pane()
        if re.search(pattern, text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never appeared:\n{pane()}")


def cancel() -> None:
    """Ctrl-C: drop the input being typed; wait for the fresh prompt before typing on."""
    keys("C-c")
    deadline = time.monotonic() + 10
    while not pane().rstrip().endswith("pytrace>"):
        assert time.monotonic() < deadline, pane()
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def repl(tmp_path):
    assert shutil.which("tmux"), "tmux is missing: run scripts/setup.sh"
    command = (f"cd {ROOT} && XDG_STATE_HOME={tmp_path / 'state'} PYTRACE_NO_CACHE=1 "
               f"{os.path.join(ROOT, '.venv', 'bin', 'pytrace')} --repl; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "150", "-y", "50", command], check=True)
    try:
        wait_for(r"pytrace>")
        yield tmp_path
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def test_completion_multiline_output_save_export_history(repl):
    tmp_path = repl
    # a tracepoint event completes by Tab
    literal("tracepoint:syscalls:sys_enter_getpp")
    keys("Tab")
    wait_for(r"pytrace> tracepoint:syscalls:sys_enter_getppid")
    # Enter inside unbalanced braces continues the definition on a new line
    literal(' /comm == "replwork"/ {')
    keys("Enter")
    literal('  @calls[comm] = count(); printf("seen %s\\n", comm); }')
    keys("Enter")
    wait_for(r"\[1\] Attached 1 probe")
    subprocess.run([sys.executable, "-c", WORKLOAD], check=True)
    deadline = time.monotonic() + 30
    while pane().count("seen replwork") < 3:
        assert time.monotonic() < deadline, pane()
        time.sleep(0.2)
    assert pane().count("seen replwork") == 3

    # kernel functions from BTF: a menu
    literal("kprobe:vfs_rea")
    keys("Tab")
    screen = wait_for(r"vfs_readlink")
    assert re.search(r"^\s+vfs_read\s*$", screen, re.M) and re.search(r"^\s+vfs_readv\s*$", screen, re.M)
    cancel()
    # builtins with their signatures, in a probe's body
    literal("BEGIN { $t = strf")
    keys("Tab")
    wait_for(r"BEGIN \{ \$t = strftime")
    cancel()
    literal("BEGIN { print(str")
    keys("Tab")
    screen = wait_for(r"strncmp\(s1, s2, n\)")
    assert "str(ptr[, len])" in screen, screen
    cancel()
    # map names of the running programs
    literal("BEGIN { @ca")
    keys("Tab")
    wait_for(r"BEGIN \{ @calls")
    colours = subprocess.run(["tmux", "capture-pane", "-t", SESSION, "-p", "-e"], capture_output=True,
                             text=True).stdout
    assert re.search(r"\x1b\[[0-9;]*m@calls", colours) and re.search(r"\x1b\[[0-9;]*mBEGIN", colours)  # highlighted
    cancel()
    # dot-commands
    literal(".")
    keys("Tab")
    screen = wait_for(r"\.export prometheus PORT")
    assert ".save FILE" in screen and ".maps" in screen
    cancel()

    script = tmp_path / "session.bt"
    literal(f".save {script}")
    keys("Enter")
    wait_for(r"saved 1 program to ")
    assert script.read_text() == ('tracepoint:syscalls:sys_enter_getppid /comm == "replwork"/ {\n'
                                  '  @calls[comm] = count(); printf("seen %s\\n", comm); }\n')

    port = free_port()
    literal(f".export prometheus {port}")
    keys("Enter")
    wait_for(rf"\[1\] serving Prometheus metrics at http://0.0.0.0:{port}/metrics")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert 'pytrace_calls_total{key0="replwork"} 3.0' in r.read().decode()

    literal(".quit")
    keys("Enter")
    wait_for(r"@calls\[replwork\]: 3\n\[1\] Detached")
    history = (tmp_path / "state" / "pytrace" / "history").read_text()
    assert "+.save " in history and '+  @calls[comm] = count(); printf("seen %s\\n", comm); }' in history


def test_tracepoint_categories_and_events_complete():
    from prompt_toolkit.document import Document

    from pytrace.runtime.repl_prompt import ReplCompleter

    def complete(text):
        return [c.text for c in ReplCompleter(None).get_completions(Document(text, len(text)), None)]

    assert "syscalls:" in complete("tracepoint:sys")
    assert complete("t:syscalls:sys_enter_getpp") == ["sys_enter_getppid"]
    assert "vfs_read" in complete("fentry:vfs_rea")
