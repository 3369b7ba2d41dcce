"""A cached program's start imports only what loading and attaching need.

The modules below cost a cached run's start tens of milliseconds (dataclasses
imports inspect; typing; the compiler; the value model and map reading, which
are imported once the probes are attached). This runs the imports of the CLI's
path to the attach notice in a fresh interpreter and checks none of them came in."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_BEFORE_ATTACH = ("dataclasses", "typing", "inspect", "hashlib", "lark", "llvmlite.binding",
                     "pytrace.lang.passes", "pytrace.lang.ast", "pytrace.runtime.maps",
                     "pytrace.runtime.output.values", "pytrace.runtime.symbols", "pytrace.runtime.output.printf")

CLI_PATH = r"""
import json, sys
before = set(sys.modules)
from pytrace.runtime import cli
args = cli._parse(["-e", "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }", "-c", "/bin/true"])
from pytrace.runtime import artifact_file, driver, lifecycle, run_extras
from pytrace.codegen.artifact import Artifact, MapSpec, ProgramSpec
from pytrace.lang.options import Options
source = cli._read_program(args)
options = Options(params=list(args.rest), has_child=True)
driver.apply_env(options)
driver._cache_key(source, options)
art = Artifact(programs=[ProgramSpec("p", "tracepoint:a:b", "tracepoint", "tracepoint", b"\0" * 8, [])],
               maps=[MapSpec(0, "@", "percpu_hash", 16, 8, 4096, "count")])
art = Artifact.from_json(art.to_json())
out = driver.make_output(args)
out.attached(1)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_cli_path_to_the_attach_notice_imports_no_compiler_nor_dataclasses():
    proc = subprocess.run([sys.executable, "-c", CLI_PATH], capture_output=True, text=True, check=True)
    imported = set(json.loads(proc.stdout.splitlines()[-1]))
    assert "Attached 1 probe" in proc.stderr
    assert "pytrace.runtime.session" in imported  # the path was really taken
    assert sorted(m for m in NOT_BEFORE_ATTACH if m in imported) == []


PLAIN_EVENTS_PATH = r"""
import json, sys
from pytrace.codegen.artifact import Artifact, EventSpec
from pytrace.runtime import session
before = set(sys.modules)
session._import_event_handling(Artifact(events=[EventSpec(0, "map_full", "WARNING: Map full\n")]))
plain = sorted(set(sys.modules) - before)
session._import_event_handling(Artifact(events=[EventSpec(0, "printf", "%d\n", [{"kind": "int", "size": 8}], [0])]))
print(json.dumps([plain, "pytrace.runtime.maps" in sys.modules]))
"""


def test_a_program_whose_only_event_is_a_full_map_warning_attaches_without_event_handling():
    """Every map update can fail (map_full): that warning's fixed text needs no decoding."""
    proc = subprocess.run([sys.executable, "-c", PLAIN_EVENTS_PATH], capture_output=True, text=True, check=True)
    plain, imported_for_printf = json.loads(proc.stdout.splitlines()[-1])
    assert "pytrace.runtime.maps" not in plain and "dataclasses" not in plain
    assert imported_for_printf
