"""`pytrace --repl`: type probes, watch them fire, read their maps.

Each probe definition typed at the prompt (continued over several lines
until its braces balance) is compiled and attached at once as a new
program with its own number and its own maps: `@x` in program 1 and `@x`
in program 2 are two different maps. A reader thread polls every program's
ring buffer, so printf output streams while the prompt waits (on a
terminal it is printed above the prompt line). Commands start with a dot;
see HELP. Every way out (.quit, Ctrl-D, SIGTERM, an error) ends every
program and releases its kernel objects.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from dataclasses import dataclass

from pytrace.runtime import api

PROMPT = "pytrace> "
CONTINUE = "...      "
POLL_SECONDS = 0.05

HELP = """\
Type a probe definition to compile and attach it as a new program, e.g.
    tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }
A definition may span several lines: it ends when its braces balance.
Each program has its own maps (@x in two programs are two maps).

Commands:
    .list             active programs and their probes
    .maps [N]         print the maps (of program N) as bpftrace prints them
    .print @map [N]   print one map, as print(@map) does
    .clear @map [N]   delete every entry of a map
    .detach N         stop program N: run its END, print its maps, release it
    .save FILE        write the active programs' definitions to FILE as one script
    .export prometheus PORT [N]
                      serve program N's maps as Prometheus metrics on PORT (until it ends)
    .help             this text
    .quit             end every program (END, maps) and leave; Ctrl-D too
Ctrl-C cancels the line being typed.
"""


@dataclass
class Entry:
    number: int
    probes: api.Probes

    @property
    def description(self) -> str:
        return f"[{self.number}] {', '.join(self.probes.program.probes)}"


class Quit(Exception):
    pass


class Terminated(Exception):
    pass


class Repl:
    def __init__(self, stdin=None, stdout=None, stderr=None, *, params=(), unsafe: bool = False,
                 pid: int | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.params, self.unsafe, self.pid = list(params), unsafe, pid
        self.interactive = self.stdin.isatty() and self.stdout.isatty()
        self.entries: dict[int, Entry] = {}
        self.next_number = 1
        self.lock = threading.RLock()  # the programs
        self.out_lock = threading.Lock()  # the terminal
        self.stopping = threading.Event()
        self.commands = {
            ".list": self.cmd_list, ".maps": self.cmd_maps, ".print": self.cmd_print, ".clear": self.cmd_clear,
            ".detach": self.cmd_detach, ".help": self.cmd_help, ".quit": self.cmd_quit, ".exit": self.cmd_quit,
            ".save": self.cmd_save, ".export": self.cmd_export,
        }
        self.prompt = None
        if self.interactive:
            from pytrace.runtime.repl_prompt import Prompt

            self.prompt = Prompt(self, PROMPT, CONTINUE)  # prompt_toolkit: history, completion, highlighting

    # ------------------------------------------------------------ output
    def write(self, text: str, err: bool = False) -> None:
        """Write text; on a terminal, above the prompt the user is typing at (patch_stdout)."""
        if not text:
            return
        stream = self.stderr if err else self.stdout
        with self.out_lock:
            stream.write(text)
            stream.flush()

    def error(self, message: str) -> None:
        self.write(f"ERROR: {message}\n", err=True)

    # ------------------------------------------------------------ input
    def read_line(self, prompt: str) -> str | None:
        """A line of input that is not a terminal (a terminal's goes through self.prompt)."""
        line = self.stdin.readline()
        return line.rstrip("\n") if line else None

    def read_input(self) -> str | None:
        """One command, or one probe definition (lines until its braces
        balance, or a blank line when none opened). None at end of input."""
        if self.prompt is not None:
            return self.prompt.read()
        lines: list[str] = []
        while True:
            try:
                line = self.read_line(CONTINUE if lines else PROMPT)
            except KeyboardInterrupt:  # cancel what is being typed
                lines = []
                continue
            if line is None:
                if lines:
                    self.error("incomplete probe definition at end of input: braces do not balance")
                return None
            if not lines and line.strip().startswith("."):
                return line.strip()
            if not lines and not line.strip():
                continue
            lines.append(line)
            depth, opened = brace_depth("\n".join(lines))
            if (opened and depth <= 0) or (not opened and not line.strip()):
                return "\n".join(lines).strip() + "\n"

    # ------------------------------------------------------------ main loop
    def run(self) -> int:
        def on_term(signum, frame):
            raise Terminated()

        old_term = signal.signal(signal.SIGTERM, on_term)
        old_int = signal.getsignal(signal.SIGINT)
        output = self.prompt.output_above() if self.prompt is not None else contextlib.nullcontext()
        with output:
            if self.prompt is not None:  # the streams patch_stdout put in place
                self.stdout, self.stderr = sys.stdout, sys.stderr
            return self._run(old_term, old_int)

    def _run(self, old_term, old_int) -> int:
        reader = threading.Thread(target=self.reader, name="pytrace-repl-reader", daemon=True)
        reader.start()
        try:
            while True:
                text = self.read_input()
                if text is None:
                    break
                try:
                    self.execute(text)
                except Quit:
                    break
                except KeyboardInterrupt:
                    self.error("interrupted")
        except Terminated:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cleanup finish
            self.stopping.set()
            reader.join()
            self.end_all()
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, old_int)
        return 0

    def execute(self, text: str) -> None:
        if not text.startswith("."):
            self.add_program(text)
            return
        name, *args = text.split()
        command = self.commands.get(name)
        if command is None:
            self.error(f"unknown command {name} (type .help)")
            return
        command(args)

    def reader(self) -> None:
        """Deliver every program's events; end programs that called exit()."""
        while not self.stopping.wait(POLL_SECONDS):
            with self.lock:
                for entry in list(self.entries.values()):
                    try:
                        entry.probes.poll(0)
                        if entry.probes.exited:
                            self.end(entry)
                    except Exception as e:  # keep streaming the others
                        self.error(f"program {entry.number}: {e}")

    # ------------------------------------------------------------ programs
    def add_program(self, text: str) -> None:
        try:
            program = api.compile(text, self.params, unsafe=self.unsafe, pid=self.pid)
            probes = program.attach()  # BEGIN, then attach; BEGIN's events wait in the queue
        except (api.CompileError, api.AttachError) as e:
            self.write(str(e).rstrip("\n") + "\n", err=True)
            return
        except PermissionError as e:
            self.error(f"{e.strerror}: pytrace needs root (CAP_BPF and CAP_PERFMON) to load and attach probes")
            return
        except OSError as e:
            self.error(str(e))
            return
        with self.lock:
            entry = Entry(self.next_number, probes)
            self.next_number += 1
            self.entries[entry.number] = entry
            n = probes.attached_count
            self.write(f"[{entry.number}] Attached {n} probe{'' if n == 1 else 's'}\n")
            for event in probes.events(timeout=0):  # BEGIN's (and, after exit(), END's)
                self.write(event.text)
            probes.on_event(lambda event: self.write(event.text))
            if probes.exited:
                self.end(entry)

    def end(self, entry: Entry) -> None:
        """Stop one program: END, its maps as printed at exit, release it, then say so."""
        with self.lock:
            self.entries.pop(entry.number, None)
            try:
                entry.probes.detach()
                self.write(entry.probes.format_maps(at_exit=True))
            finally:
                entry.probes.close()
            if entry.probes.exited:
                code = entry.probes.exit_code
                self.write(f"[{entry.number}] Exited{f' (exit code {code})' if code else ''}\n")
            else:
                self.write(f"[{entry.number}] Detached\n")

    def end_all(self) -> None:
        with self.lock:
            for number in sorted(self.entries):
                try:
                    self.end(self.entries[number])
                except Exception as e:
                    self.error(f"program {number}: {e}")

    def lookup(self, arg: str) -> Entry | None:
        entry = self.entries.get(int(arg)) if arg.isdigit() else None
        if entry is None:
            self.error(f"no program {arg} (type .list)")
        return entry

    def selected(self, args: list[str]) -> list[Entry] | None:
        """The program an optional number names, else every program."""
        if args:
            entry = self.lookup(args[0])
            return [entry] if entry else None
        return [self.entries[n] for n in sorted(self.entries)]

    # ------------------------------------------------------------ commands
    def cmd_list(self, args: list[str]) -> None:
        with self.lock:
            if not self.entries:
                self.write("no programs attached\n")
            for number in sorted(self.entries):
                self.write(self.entries[number].description + "\n")

    def cmd_maps(self, args: list[str]) -> None:
        with self.lock:
            entries = self.selected(args[:1])
            for entry in entries or []:
                if len(entries) > 1:
                    self.write(entry.description + "\n")
                self.write(entry.probes.format_maps(at_exit=True))

    def map_owners(self, args: list[str], usage: str) -> list[Entry]:
        if not args or not args[0].startswith("@"):
            self.error(f"usage: {usage}")
            return []
        entries = self.selected(args[1:2]) or []
        owners = [e for e in entries if args[0] in e.probes.map_names]
        if entries and not owners:
            self.error(f"no map named {args[0]}")
        return owners

    def cmd_print(self, args: list[str]) -> None:
        with self.lock:
            owners = self.map_owners(args, ".print @map [N]")
            for entry in owners:
                if len(owners) > 1:
                    self.write(entry.description + "\n")
                self.write(entry.probes.format_map(args[0]))

    def cmd_clear(self, args: list[str]) -> None:
        with self.lock:
            for entry in self.map_owners(args, ".clear @map [N]"):
                entry.probes.clear(args[0])

    def cmd_detach(self, args: list[str]) -> None:
        if len(args) != 1:
            self.error("usage: .detach N")
            return
        with self.lock:
            entry = self.lookup(args[0])
            if entry is not None:
                self.end(entry)

    def cmd_help(self, args: list[str]) -> None:
        self.write(HELP)

    def command_help(self) -> list[tuple[str, str]]:
        """(command, its line of HELP) for completion."""
        lines = {line.split()[0]: line.strip() for line in HELP.splitlines() if line.strip().startswith(".")}
        return [(name, lines.get(name, "")) for name in sorted(self.commands)]

    def cmd_save(self, args: list[str]) -> None:
        if len(args) != 1:
            self.error("usage: .save FILE")
            return
        with self.lock:
            texts = [self.entries[n].probes.program.source.text.strip() + "\n" for n in sorted(self.entries)]
        try:
            with open(args[0], "w") as f:
                f.write("\n".join(texts))
        except OSError as e:
            self.error(f"cannot write {args[0]}: {e.strerror}")
            return
        self.write(f"saved {len(texts)} program{'' if len(texts) == 1 else 's'} to {args[0]}\n")

    def cmd_export(self, args: list[str]) -> None:
        if len(args) not in (2, 3) or args[0] != "prometheus" or not args[1].isdigit():
            self.error("usage: .export prometheus PORT [N]")
            return
        with self.lock:
            if len(args) == 3:
                entry = self.lookup(args[2])
            elif len(self.entries) == 1:
                entry = next(iter(self.entries.values()))
            else:
                self.error("say which program: .export prometheus PORT N" if self.entries else "no programs attached")
                return
            if entry is None:
                return
            try:
                server = entry.probes.serve_prometheus(int(args[1]))
            except OSError as e:
                self.error(f"cannot serve on port {args[1]}: {e.strerror}")
                return
        self.write(f"[{entry.number}] serving Prometheus metrics at {server.url}\n")

    def cmd_quit(self, args: list[str]) -> None:
        raise Quit()


def brace_depth(text: str) -> tuple[int, bool]:
    """(open minus closed braces, whether any opened), outside strings and comments."""
    depth, opened, i, n = 0, False, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                break
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2)
            if i < 0:
                break
            i += 1
        elif ch == "{":
            depth += 1
            opened = True
        elif ch == "}":
            depth -= 1
        i += 1
    return depth, opened


def run_repl(args) -> int:
    """`pytrace --repl [-p PID] [--unsafe] [-- $1 $2 ...]`."""
    from pytrace.runtime import driver

    driver.ensure_kernel_fs()
    return Repl(params=args.rest, unsafe=args.unsafe, pid=args.pid).run()
