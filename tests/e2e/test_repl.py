"""`pytrace --repl` driven through pipes: exact output, nothing left behind."""

import os
import queue
import secrets
import signal
import subprocess
import sys
import threading

import pytest

from conftest import kernel_maps, map_freed

pytestmark = pytest.mark.kernel

ME = os.getpid()
GETPPID = f"tracepoint:syscalls:sys_enter_getppid /pid == {ME}/"




class Repl:
    """A `pytrace --repl` process: send lines, read its stdout line by line."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTRACE_NO_CACHE="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "pytrace", "--repl"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, *lines: str) -> None:
        for line in lines:
            self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, *lines: str, timeout: float = 30) -> None:
        """The next stdout lines are exactly these."""
        got = []
        for _ in lines:
            try:
                got.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                break
        assert got == [line + "\n" for line in lines], self.proc.stderr.read() if None in got else got

    def finish(self, timeout: float = 30) -> tuple[list[str], str]:
        """Close stdin (Ctrl-D) and return the remaining stdout lines and stderr."""
        self.proc.stdin.close()
        err = self.proc.stderr.read()
        assert self.proc.wait(timeout) == 0, err
        rest = []
        while (line := self.lines.get(timeout=timeout)) is not None:
            rest.append(line)
        return rest, err


def test_attach_stream_maps_detach_quit():
    name = "@rp" + secrets.token_hex(4)
    repl = Repl()
    try:
        repl.send(GETPPID, "{", f'  {name} = count(); printf("ppid %d\\n", pid);', "} END { }")
        repl.expect("[1] Attached 2 probes")
        for _ in range(3):
            os.getppid()
        repl.expect(*[f"ppid {ME}"] * 3)
        repl.send(".maps")
        repl.expect(f"{name}: 3")
        repl.send(f'{GETPPID} {{ {name} = count(); }} END {{ printf("end 2\\n"); }}')
        repl.expect("[2] Attached 2 probes")
        os.getppid()
        repl.expect(f"ppid {ME}")
        repl.send(".list", ".maps", ".maps 2")
        repl.expect("[1] tracepoint:syscalls:sys_enter_getppid, end",
                    "[2] tracepoint:syscalls:sys_enter_getppid, end",
                    "[1] tracepoint:syscalls:sys_enter_getppid, end", f"{name}: 4",
                    "[2] tracepoint:syscalls:sys_enter_getppid, end", f"{name}: 1",
                    f"{name}: 1")
        repl.send("BEGIN { nosuch(); }", ".detach 1", ".list")
        repl.expect(f"{name}: 4", "[1] Detached", "[2] tracepoint:syscalls:sys_enter_getppid, end")
        os.getppid()
        repl.send(f".print {name}", f".clear {name}", f".print {name}", ".bogus", ".quit")
        repl.expect(f"{name}: 2", f"{name}: 0", "end 2", "[2] Detached")
        rest, err = repl.finish()
    finally:
        repl.proc.kill()
    assert rest == []
    assert err == ("stdin:1:9-17: ERROR: Unknown function: 'nosuch'\n"
                   "BEGIN { nosuch(); }\n"
                   "        ~~~~~~~~\n"
                   "ERROR: unknown command .bogus (type .help)\n")
    assert map_freed(name[1:])


def test_ctrl_d_and_exit_end_every_program():
    name = "@rq" + secrets.token_hex(4)
    repl = Repl()
    try:
        repl.send('BEGIN { printf("hi\\n"); exit(); } END { printf("bye\\n"); }')
        repl.expect("[1] Attached 2 probes", "hi", "bye", "[1] Exited")
        repl.send(f"{GETPPID} {{ {name}[comm] = count(); }}")
        repl.expect("[2] Attached 1 probe")
        os.getppid()
        os.getppid()
        with open("/proc/self/comm") as f:
            comm = f.read().strip()
        rest, err = repl.finish()
    finally:
        repl.proc.kill()
    assert rest == [f"{name}[{comm}]: 2\n", "[2] Detached\n"]
    assert err == ""
    assert map_freed(name[1:])


def test_begin_runs_before_attaching_like_the_cli():
    repl = Repl()
    try:
        # BEGIN runs through a bpf() call: an attached sys_enter_bpf probe would have counted it.
        repl.send(f"tracepoint:syscalls:sys_enter_bpf /pid == {repl.proc.pid}/ {{ @n++; }} "
                  'BEGIN { printf("begin %d\\n", @n); }')
        repl.expect("[1] Attached 2 probes", "begin 0")
        rest, err = repl.finish()
    finally:
        repl.proc.kill()
    assert rest[-1] == "[1] Detached\n", rest
    assert err == ""


def test_sigterm_ends_programs_and_releases_everything():
    name = "@rs" + secrets.token_hex(4)
    repl = Repl()
    try:
        repl.send(f"{GETPPID} {{ {name} = count(); }}")
        repl.expect("[1] Attached 1 probe")
        os.getppid()
        assert name[1:] in kernel_maps()
        repl.proc.send_signal(signal.SIGTERM)
        err = repl.proc.stderr.read()
        repl.proc.wait(30)
    finally:
        repl.proc.kill()
    assert repl.proc.returncode == 0, err
    assert [repl.lines.get(timeout=5), repl.lines.get(timeout=5)] == [f"{name}: 1\n", "[1] Detached\n"]
    assert map_freed(name[1:])


@pytest.mark.parametrize("text, depth", [
    ("BEGIN {", (1, True)),
    ('BEGIN { printf("}"); }', (0, True)),
    ("BEGIN // {\n", (0, False)),
    ("BEGIN /* { */ { if (1) { } }", (0, True)),
])
def test_brace_balance(text, depth):
    from pytrace.runtime.repl import brace_depth

    assert brace_depth(text) == depth
