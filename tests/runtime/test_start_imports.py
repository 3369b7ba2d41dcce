"""A cached program's start imports only what loading and attaching need.

The modules below cost a cached run's start milliseconds each (dataclasses
imports inspect; typing; argparse, json and signal bring `re` and `enum`;
threading is needed only to detach; the compiler; the value model and map
reading, which are imported once the probes are attached). This runs the CLI's path to the attach notice for a command line
run before (its options and its program in the cache) in a fresh interpreter and
checks none of them came in."""

from __future__ import annotations

import json
import os
import subprocess
import sys

NOT_BEFORE_ATTACH = ("dataclasses", "typing", "inspect", "hashlib", "lark", "llvmlite.binding",
                     "argparse", "re", "enum", "json", "signal", "threading",
                     "pytrace.lang.passes", "pytrace.lang.ast", "pytrace.runtime.maps",
                     "pytrace.runtime.output.values", "pytrace.runtime.symbols", "pytrace.runtime.output.printf",
                     # (contextlib, functools and collections: ~2 ms; other probe types' modules)
                     "contextlib", "functools", "collections", "importlib",
                     "pytrace.runtime.iterators", "pytrace.runtime.kprobes", "pytrace.runtime.uprobe_multi",
                     "pytrace.runtime.pcap")

ARGV = ["-e", "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }", "-c", "/bin/true"]

# The first run: parses the command line (argparse), compiles (here: a stand-in artifact) and
# keeps both in the cache, as cli.Run does.
FIRST_RUN = r"""
import sys
from pytrace.codegen.artifact import Artifact, MapSpec, ProgramSpec
from pytrace.runtime import cache, cli
argv = ARGV
run = cli.Run(cli._parse_and_check(argv), remember=argv)
source = cli._read_program(run.args)
art = Artifact(programs=[ProgramSpec("p", "tracepoint:a:b", "tracepoint", "tracepoint", b"\0" * 8, [])],
               maps=[MapSpec(0, "@", "percpu_hash", 16, 8, 4096, "count")])
cache.store_artifact(cache.key(source, cli.compile_options(run.args)), art, "")
cache.remember_args(argv, run.parsed)
"""

# The same command line again: the CLI's steps up to the attach notice (Run.main and Run._run
# without the kernel).
CACHED_RUN = r"""
import json, sys
before = set(sys.modules)
from pytrace.runtime import cache, cli
recalled = cache.recall_args(ARGV)
args = cli.Args(recalled)
from pytrace.runtime import driver, lifecycle, run_extras
source = cli._read_program(args)
artifact = driver.compile_source(source, cli.compile_options(args), args.debug)
out = driver.make_output(args)
out.attached(len(artifact.programs))
print(json.dumps([recalled is not None, sorted(set(sys.modules) - before)]))
"""


def test_a_repeated_command_line_reaches_the_attach_notice_without_argparse_compiler_nor_dataclasses(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    env.pop("PYTRACE_NO_CACHE", None)
    for code in (FIRST_RUN, CACHED_RUN):
        proc = subprocess.run([sys.executable, "-c", code.replace("ARGV", repr(ARGV))], capture_output=True,
                              text=True, check=True, env=env)
    recalled, imported = json.loads(proc.stdout.splitlines()[-1])
    assert recalled  # the parsed command line came from the cache
    assert "Attached 1 probe" in proc.stderr
    assert "pytrace.runtime.session" in imported  # the path was really taken
    assert sorted(m for m in NOT_BEFORE_ATTACH if m in imported) == []


PLAIN_EVENTS_PATH = r"""
import json, sys
from pytrace.codegen.artifact import Artifact, EventSpec
from pytrace.runtime import session
before = set(sys.modules)
int_arg = [{"kind": "int", "size": 8, "signed": True}]
session._import_event_handling(Artifact(events=[EventSpec(0, "map_full", "WARNING: Map full\n"),
                                                EventSpec(1, "exit", "", int_arg, [8]),
                                                EventSpec(2, "printf", "%d\n", int_arg, [8])]),
                               [None, None, lambda view, offset: "compiled"])
plain = sorted(set(sys.modules) - before)
session._import_event_handling(Artifact(events=[EventSpec(0, "printf", "%d\n", int_arg, [8])]), [None])
print(json.dumps([plain, "pytrace.runtime.maps" in sys.modules]))
"""


def test_programs_whose_events_need_no_value_model_attach_without_event_handling():
    """Every map update can fail (map_full): that warning's fixed text needs no decoding; exit(code)'s
    argument is a plain integer; a printf compiled to a formatter reads its record directly."""
    proc = subprocess.run([sys.executable, "-c", PLAIN_EVENTS_PATH], capture_output=True, text=True, check=True)
    plain, imported_for_printf = json.loads(proc.stdout.splitlines()[-1])
    assert "pytrace.runtime.maps" not in plain and "dataclasses" not in plain
    assert imported_for_printf  # a printf formatted through the value model: imported before attaching
