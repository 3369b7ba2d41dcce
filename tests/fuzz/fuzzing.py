"""What the fuzz tests (tests/fuzz/) and the long run (scripts/fuzz.py) share:
the oracle (compile one input; anything but a compiled artifact or a
CompileError is a finding), the corpus of real programs, and the hypothesis
strategies (programs generated from the grammar, real programs mutated, ELF
files mutated and truncated).

Inputs are compiled for the fixture kernel (tests/fixtures/kernel): nothing
reads the host, nothing is loaded.
"""

from __future__ import annotations

import ast as pyast
import os
import re
import signal
import subprocess
import traceback
from dataclasses import dataclass
from functools import lru_cache

from hypothesis import strategies as st

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE_KERNEL = os.path.join(REPO, "tests", "fixtures", "kernel")
UPSTREAM = os.environ.get("BPFTRACE_SRC", "/work/.mirror/bpftrace+bpftrace/repo")


class Hang(Exception):
    """An input took longer than its time limit."""


@dataclass(frozen=True)
class Finding:
    kind: str      # "traceback" or "hang"
    where: str     # exception type and the innermost pytrace frame: one class of bug
    detail: str    # the traceback

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}\n{self.detail}"


# ------------------------------------------------------------------ oracle

def _options(**overrides):
    from pytrace.lang.kernel_view import KernelView
    from pytrace.lang.options import Options

    return Options(kernel=KernelView.from_directory(FIXTURE_KERNEL), **overrides)


def compile_program(text: str, **options) -> None:
    """pytrace's whole compile (passes, IR, LLVM in its child): returns, or
    raises CompileError for a diagnosed user mistake."""
    from pytrace.codegen.compile import generate
    from pytrace.lang.passes import analyse
    from pytrace.lang.source import Source

    generate(analyse(Source("stdin", text), _options(**options)))


def read_elf(data: bytes) -> None:
    """Everything pytrace reads from a uprobe target; raises ElfError for a bad file."""
    from pytrace.lang import elf

    image = elf.ElfFile("fuzz.elf", data)
    image.is_pie
    symbols = image.functions()
    image.usdt_notes()
    for addr in list(symbols.values())[:50]:
        try:
            image.file_offset(addr)
        except elf.ElfError:
            pass


def classify(error: BaseException) -> str:
    """One class per exception type and innermost frame in pytrace's code."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if REPO in f.filename
              and "/tests/" not in f.filename]
    where = f"{os.path.relpath(frames[-1].filename, REPO)}:{frames[-1].name}" if frames else "?"
    return f"{type(error).__name__} at {where}"


def check(run, arg, expected: tuple[type[BaseException], ...], seconds: float) -> Finding | None:
    """Run `run(arg)` under a time limit; None if it returned or raised one
    of `expected`, else the finding. SystemExit counts as a finding: a
    compile must never end the process."""
    def on_alarm(_sig, _frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    # Repeating: a Hang raised where it is swallowed (a gc callback) fires again.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        run(arg)
    except expected:
        return None
    except Hang as e:
        return Finding("hang", f"over {seconds:g} s " + classify(e), traceback.format_exc(limit=-8))
    except (Exception, SystemExit, RecursionError) as e:  # noqa: BLE001 - every one is a finding
        return Finding("traceback", classify(e), traceback.format_exc(limit=-8))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return None


def check_program(text: str, seconds: float = 10.0, **options) -> Finding | None:
    from pytrace.lang.diagnostics import CompileError

    return check(lambda t: compile_program(t, **options), text, (CompileError,), seconds)


def check_elf(data: bytes, seconds: float = 5.0) -> Finding | None:
    from pytrace.lang.elf import ElfError

    return check(read_elf, data, (ElfError,), seconds)


# ------------------------------------------------------------------ corpus

PROGRAM_START = re.compile(r"^\s*(?:BEGIN|END|begin|end|tracepoint:|t:|kprobe:|k:|kretprobe:|uprobe:|u:|"
                           r"uretprobe:|usdt:|interval:|i:|profile:|p:|software:|s:|hardware:|h:|fentry:|"
                           r"f:|fexit:|rawtracepoint:|rt:|iter:|watchpoint:|config\s*=|macro\s|let\s|#)")


@lru_cache(maxsize=1)
def own_programs() -> tuple[str, ...]:
    """Programs in our own tests (string constants that look like a
    program) and scripts/*.bt."""
    found: set[str] = set()
    for dirpath, _dirs, files in os.walk(os.path.join(REPO, "tests")):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                tree = pyast.parse(f.read())
            for node in pyast.walk(tree):
                if (isinstance(node, pyast.Constant) and isinstance(node.value, str)
                        and "{" in node.value and PROGRAM_START.match(node.value)):
                    found.add(node.value)
    scripts = os.path.join(REPO, "scripts")
    for name in sorted(os.listdir(scripts)):
        if name.endswith(".bt"):
            with open(os.path.join(scripts, name), encoding="utf-8") as f:
                found.add(f.read())
    return tuple(sorted(found))


def upstream_programs() -> tuple[str, ...]:
    """bpftrace's tools and runtime-test programs, read at run time from a
    bpftrace checkout (BPFTRACE_SRC, a bare repository): never copied into
    this repository. Empty when there is none."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", UPSTREAM, *args], capture_output=True, text=True,
                              errors="replace").stdout

    if not os.path.isdir(UPSTREAM):
        return ()
    out: list[str] = []
    for path in git("ls-tree", "-r", "--name-only", "HEAD", "tools/", "tests/runtime/").split():
        if path.endswith(".bt"):
            out.append(git("show", f"HEAD:{path}"))
        elif path.startswith("tests/runtime/") and "/" not in path[len("tests/runtime/"):]:
            out += [line[5:] for line in git("show", f"HEAD:{path}").splitlines() if line.startswith("PROG ")]
    return tuple(p for p in out if p.strip())


# Tokens the mutator inserts: edges of sizes and ranges, and the language's odd corners.
TOKENS = (
    "0", "1", "-1", "63", "64", "65", "-64", "255", "256", "4096", "0x7fffffffffffffff", "0xffffffffffffffff",
    "18446744073709551616", "1e3", "1_000", "'a'", '""', '"%s %d %llu %r"', '"\\x00"', '"a\\0b"',
    "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "~", "!", "&&", "||", "==", "<", ">", "?", ":", "=",
    "+=", "<<=", "++", "--", "->", ".", ",", ";", "(", ")", "[", "]", "{", "}", "$", "@", "$x", "@m", "@",
    "$1", "$#", "args", "arg0", "retval", "comm", "pid", "kstack", "ustack", "nsecs", "probe", "func",
    "str(", "buf(", "printf(", "print(", "count()", "hist(", "lhist(", "delete(", "unroll(", "if", "else",
    "while", "for", "return", "sizeof(", "offsetof(", "(uint8)", "(int64)", "(struct task_struct *)",
    "(string)", "(0, (1, 2))", "-args", "args - 1", "curtask->", "*", "&", "BEGIN", "END",
    "tracepoint:syscalls:sys_enter_openat", "kprobe:*", "uprobe:/dev/zero:f", "interval:s:1",
    "config = { max_strlen = 100000 }", "macro m($x) { $x }", "let @q = lruhash(1);",
)


# Token classes and what may replace a token of each: a mutation that keeps
# the program parseable more often than a random edit, so it gets past the
# parser into the passes and the code generator.
SAME_KIND = (
    (re.compile(r"(?<![\w$@.])\d\w*"), ("0", "1", "-1", "63", "64", "65", "-64", "255", "4096", "0x7fffffffffffffff",
                                      "0xffffffffffffffff", "18446744073709551616", "1_000", "100000")),
    (re.compile(r"<<|>>|&&|\|\||==|!=|<=|>=|(?<![-=<>!&|])[-+*/%&|^<>](?![-=<>&|>])"),
     ("+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&&", "||", "==", "!=", "<", ">=")),
    (re.compile(r"(?<![\w$@.>:])[a-z_]\w*(?=\s*[;,)\]}])"),
     ("args", "arg0", "retval", "comm", "pid", "kstack", "ustack", "nsecs", "probe", "func", "curtask",
      "cpu", "elapsed", "-args", "(uint8)args", "args - 1", "$x", "@m", "\"s\"", "(1, (2, 3))", "ustack(5)")),
    (re.compile(r"\$[A-Za-z_]\w*"), ("$x", "$y", "$s", "args", "@m", "1", "\"str\"", "(0, 0)")),
    (re.compile(r"@\w*"), ("@", "@m", "@n", "@m[1]", "@m[(1, 2)]", "@m[\"a\", 2]")),
    (re.compile(r"\"(?:[^\"\\\n]|\\.)*\""), ('""', '"%d %s"', '"%s"', '"a\\0b"', '"' + "x" * 2000 + '"')),
)


def _mutate(text: str, ops: list[tuple[int, int, int, int]], other: str) -> str:
    """Apply edit operations: each (kind, position, length, token index)."""
    for kind, pos, length, tok in ops:
        n = len(text)
        p = pos % (n + 1)
        kind %= 8
        if kind <= 2:    # replace a token by another of its kind (most edits)
            pattern, choices = SAME_KIND[(pos + kind) % len(SAME_KIND)]
            matches = list(pattern.finditer(text))
            if matches:
                m = matches[tok % len(matches)]
                text = text[:m.start()] + choices[length % len(choices)] + text[m.end():]
        elif kind == 3:  # delete a span
            text = text[:p] + text[p + length % 40:]
        elif kind == 4:  # insert a token
            text = text[:p] + " " + TOKENS[tok % len(TOKENS)] + " " + text[p:]
        elif kind == 5:  # duplicate a span
            text = text[:p] + text[p:p + length % 60] + text[p:]
        elif kind == 6:  # splice in a piece of another program
            q = tok % (len(other) + 1)
            text = text[:p] + other[q:q + length % 80] + text[p:]
        else:            # repeat a span many times (depth, size)
            text = text[:p] + text[p:p + 1 + length % 8] * (tok % 400) + text[p:]
    return text


def mutated(corpus: tuple[str, ...]) -> st.SearchStrategy[str]:
    op = st.tuples(st.integers(0, 6), st.integers(0, 1 << 16), st.integers(0, 255), st.integers(0, 1 << 16))
    return st.builds(_mutate, st.sampled_from(corpus), st.lists(op, min_size=1, max_size=4),
                     st.sampled_from(corpus))


# ------------------------------------------------------------------ grammar

ATTACH_POINTS = (
    "BEGIN", "END", "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_enter_*",
    "tracepoint:sched:sched_switch", "t:syscalls:sys_exit_read", "kprobe:vfs_read", "kretprobe:vfs_read",
    "interval:s:1", "interval:ms:100", "profile:hz:99", "software:cpu-clock:1000", "uprobe:/bin/sh:main",
    "fentry:vfs_read", "fexit:vfs_read", "rawtracepoint:sched_switch", "iter:task", "kprobe:*",
    "uprobe:/dev/zero:f", "usdt:/bin/sh:p:q", "watchpoint:0x1000:8:w", "hardware:cache-misses:100",
)
NAMES = ("x", "comm", "pid", "args", "arg0", "retval", "nsecs", "kstack", "ustack", "probe", "func", "cpu",
         "str", "buf", "printf", "print", "count", "sum", "hist", "lhist", "delete", "exit", "len",
         "strncmp", "ksym", "ntop", "sizeof", "filename", "prev_pid", "task_struct", "max_strlen", "perf",
         "curtask", "signal", "tseries", "strftime", "cat", "system", "join", "zero", "clear", "unroll")


def _padded(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda s: f" {s} ")


@lru_cache(maxsize=1)
def _grammar():
    import lark

    with open(os.path.join(REPO, "grammar", "pytrace.lark"), encoding="utf-8") as f:
        return lark.Lark(f.read(), parser="lalr", lexer="contextual", maybe_placeholders=False)


def generated() -> st.SearchStrategy[str]:
    """Programs drawn from grammar/pytrace.lark; every terminal separated by
    a space (so tokens do not merge) and the open ones drawn from names and
    values that mean something for the fixture kernel."""
    from hypothesis.extra.lark import from_lark

    grammar = _grammar()
    explicit = {
        "ATTACH_POINT": st.sampled_from(ATTACH_POINTS),
        "IDENT": st.sampled_from(NAMES),
        "VAR": st.sampled_from(("$x", "$y", "$s", "$t")),
        "MAP": st.sampled_from(("@", "@m", "@n", "@x")),
        "PARAM": st.sampled_from(("$1", "$2", "$0")),
        "INT": st.sampled_from(("0", "1", "2", "7", "64", "65", "100", "4096", "0x10", "1_000", "99999999999")),
        "STRING": st.sampled_from(('""', '"a"', '"%d\\n"', '"%s %s\\n"', '"/dev/null"', '"x\\0y"')),
        "SHEBANG": st.just("#!/usr/bin/env bpftrace\n"),
        "CPREPROC": st.sampled_from(("#include <linux/sched.h>\n", "#define N 4\n")),
        "STRUCT_DEFN": st.sampled_from(("struct s { int a; char b[4]; };", "struct t { struct t *next; }")),
        "PAREN_IDENT": st.sampled_from(("(x)", "(task_struct)", "(s)")),
        "TYPEDEF_PTR": st.sampled_from(("(task_struct *)", "(s *)", "(x **)")),
    }
    for term in grammar.terminals:
        if term.name not in explicit:
            pattern = term.pattern
            if pattern.type == "str":
                explicit[term.name] = st.just(pattern.value)
    for name in grammar.ignore_tokens:  # comments and odd whitespace: a plain space
        explicit[name] = st.just(" ")
    explicit = {name: _padded(s) for name, s in explicit.items()}
    # Mostly single probes: whole programs spend their draws on config blocks and C definitions.
    probe = from_lark(grammar, start="probe",
                      explicit={k: v for k, v in explicit.items()
                                if k in _reachable(grammar, "probe") or k in grammar.ignore_tokens})
    return st.one_of(probe, probe, from_lark(grammar, explicit=explicit))


def _reachable(grammar, start: str) -> set[str]:
    """The terminals a rule of the grammar can produce."""
    rules: dict[str, list] = {}
    for rule in grammar.rules:
        rules.setdefault(rule.origin.name, []).append(rule.expansion)
    seen, todo, terminals = set(), [start], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for expansion in rules.get(name, []):
            for sym in expansion:
                (terminals.add(sym.name) if sym.is_term else todo.append(sym.name))
    return terminals


# ------------------------------------------------------------------ ELF files

@lru_cache(maxsize=1)
def elf_seeds() -> tuple[bytes, ...]:
    """Real ELF files: small binaries of this machine and our test fixtures' builds."""
    seeds = []
    for path in ("/bin/true", "/bin/sleep", "/usr/lib/x86_64-linux-gnu/libdl.so.2"):
        try:
            with open(path, "rb") as f:
                seeds.append(f.read())
        except OSError:
            pass
    return tuple(seeds)


def _mutate_elf(data: bytes, cut: int, edits: list[tuple[int, int]], header_bias: bool) -> bytes:
    buf = bytearray(data[:max(cut % (len(data) + 1), 0)] if cut else data)
    for pos, value in edits:
        if not buf:
            break
        # Most structure is in the first bytes (headers) and the last (section headers).
        span = min(len(buf), 256) if header_bias else len(buf)
        i = pos % span if header_bias and pos % 2 else (len(buf) - 1 - pos % span if header_bias else pos % span)
        buf[i] = value
    return bytes(buf)


def mutated_elf() -> st.SearchStrategy[bytes]:
    seeds = elf_seeds() or (b"\x7fELF\x02\x01\x01" + bytes(57),)
    return st.builds(_mutate_elf, st.sampled_from(seeds), st.integers(0, 1 << 22),
                     st.lists(st.tuples(st.integers(0, 1 << 22), st.integers(0, 255)), max_size=12),
                     st.booleans())
