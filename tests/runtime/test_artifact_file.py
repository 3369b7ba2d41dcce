"""Compiled program files (runtime/artifact_file.py): written by `--emit` (and, as an
executable, by `--aot`), run by `pytrace FILE` where no compiler is installed, refused
on another kernel build, compiled again for other program options."""

import json
import os
import subprocess
import sys

import pytest

from conftest import py_workload, run_pytrace
from pytrace.codegen.artifact import Artifact
from pytrace.runtime import artifact_file
from pytrace.runtime.artifact_file import ArtifactFileError

HERE = {"release": "6.18.0-test", "build_id": "ab" * 20}
# The CLI where lark and llvmlite cannot be imported, as in a runtime-only install.
NO_COMPILER = ("import sys; sys.modules['lark'] = sys.modules['llvmlite'] = None; "
               "from pytrace.runtime.cli import main; sys.exit(main(sys.argv[1:]))")


def file_bytes(kernel=HERE, params=(), pid=None, named=None) -> bytes:
    options = {"params": list(params), "pid": pid, "has_child": False, "unsafe": False}
    if named is not None:
        options["named_params"] = named
    header = {"kernel": kernel, "options": options,
              "source": {"name": "tool.bt", "text": "BEGIN { exit(); }"}}
    return (artifact_file.MAGIC + b" 1 " + json.dumps(header).encode() + b"\n"
            + Artifact(source_name="tool.bt").to_json().encode())


def test_a_file_for_this_kernel_loads_with_its_source():
    artifact, source = artifact_file.load("t.ptc", file_bytes(), params=[], pid=None, kernel=HERE)
    assert artifact.source_name == "tool.bt"
    assert (source.name, source.text) == ("tool.bt", "BEGIN { exit(); }")
    assert artifact_file.is_artifact(file_bytes()) and not artifact_file.is_artifact(b"BEGIN { }")


def test_another_kernel_build_is_refused_naming_both():
    other = {"release": "6.1.0-18-amd64", "build_id": "cd" * 20}
    with pytest.raises(ArtifactFileError) as e:
        artifact_file.load("t.ptc", file_bytes(kernel=other), params=[], pid=None, kernel=HERE)
    assert str(e.value) == (
        "t.ptc was compiled for kernel 6.1.0-18-amd64 (build id cdcdcdcdcdcdcdcd), but this kernel is "
        "6.18.0-test (build id abababababababab): struct field offsets and tracepoint formats may differ, "
        "so it is not run. Compile it again on this kernel with --emit.")
    same_release = dict(HERE, build_id="ef" * 20)  # a rebuild with the same version string
    with pytest.raises(ArtifactFileError, match="compiled for kernel 6.18.0-test .build id efefefef"):
        artifact_file.load("t.ptc", file_bytes(kernel=same_release), params=[], pid=None, kernel=HERE)


def test_kaddr_programs_are_bound_to_their_boot():
    with pytest.raises(ArtifactFileError, match="kaddr.*before this boot"):
        artifact_file.load("t.ptc", file_bytes(kernel=dict(HERE, boot_id="1")), params=[], pid=None,
                           kernel=dict(HERE, boot_id="2"))


def test_compiled_in_options_must_match():
    with pytest.raises(ArtifactFileError, match=r"positional parameters \['5'\]"):
        artifact_file.load("t.ptc", file_bytes(params=["5"]), params=["6"], pid=None, kernel=HERE)
    artifact_file.load("t.ptc", file_bytes(params=["5"]), params=[], pid=None, kernel=HERE)  # as compiled
    with pytest.raises(ArtifactFileError, match="compiled with -p 42"):
        artifact_file.load("t.ptc", file_bytes(pid=42), params=[], pid=None, kernel=HERE)


def test_other_program_options_ask_for_the_source_to_be_compiled_again():
    artifact_file.load("t.ptc", file_bytes(named=["aa=1"]), params=[], pid=None, kernel=HERE,
                       named_params=["aa=1"])
    artifact_file.load("t.ptc", file_bytes(), params=[], pid=None, kernel=HERE)  # none, as compiled
    with pytest.raises(artifact_file.OptionsDiffer) as e:
        artifact_file.load("t.ptc", file_bytes(named=["aa=1"]), params=[], pid=None, kernel=HERE,
                           named_params=["aa=2"])
    assert (e.value.source.name, e.value.source.text) == ("tool.bt", "BEGIN { exit(); }")
    assert "compiled with program options ['aa=1']" in str(e.value)


def test_an_aot_file_is_an_artifact_behind_its_interpreter_line():
    data = artifact_file.interpreter_line() + file_bytes()
    assert data.startswith(b"#!/usr/bin/env -S ") and artifact_file.is_artifact(data)
    artifact, _ = artifact_file.load("t", data, params=[], pid=None, kernel=HERE)
    assert artifact.source_name == "tool.bt"
    assert not artifact_file.is_artifact(b"#!/usr/bin/env pytrace\nBEGIN { }")


def test_damaged_files_are_refused():
    with pytest.raises(ArtifactFileError, match="bad header"):
        artifact_file.load("t.ptc", artifact_file.MAGIC + b" nonsense\n{}", params=[], pid=None, kernel=HERE)
    with pytest.raises(ArtifactFileError, match="version 9"):
        artifact_file.load("t.ptc", artifact_file.MAGIC + b" 9 {}\n{}", params=[], pid=None, kernel=HERE)
    with pytest.raises(ArtifactFileError, match="damaged"):
        artifact_file.load("t.ptc", file_bytes()[:-10], params=[], pid=None, kernel=HERE)


def test_kernel_build_id_reads_the_gnu_note(tmp_path):
    notes = tmp_path / "notes"
    xen = b"\x04\x00\x00\x00\x04\x00\x00\x00\x06\x00\x00\x00Xen\x00\x01\x02\x03\x04"
    gnu = b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00" + bytes(range(20))
    notes.write_bytes(xen + gnu)
    assert artifact_file.kernel_build_id(str(notes)) == bytes(range(20)).hex()
    assert artifact_file.kernel_build_id(str(tmp_path / "missing")) == ""


@pytest.mark.kernel
def test_emit_then_run_without_a_compiler(tmp_path):
    path = str(tmp_path / "count.ptc")
    r = run_pytrace("--emit", path, "-c", "true", "-e",
                    'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("ppid %s\\n", comm); @n = count(); }')
    assert r.rc == 0 and r.out == "" and open(path, "rb").read(17) == artifact_file.MAGIC, r
    workload = py_workload("import os\nfor _ in range(3): os.getppid()")
    env = dict(os.environ, PYTRACE_NO_CACHE="1")
    proc = subprocess.run([sys.executable, "-c", NO_COMPILER, path, "-c", workload], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    comm = os.path.basename(sys.executable)[:15]
    assert proc.stdout == f"ppid {comm}\n" * 3 + "\n\n@n: 3\n", proc.stdout
    # a program given as text needs the compiler: said plainly
    proc = subprocess.run([sys.executable, "-c", NO_COMPILER, "-e", "BEGIN { exit(); }"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("ERROR: this pytrace has no compiler (lark is not installed)")


@pytest.mark.kernel
def test_a_file_from_another_kernel_build_is_not_run(tmp_path):
    path = tmp_path / "t.ptc"
    assert run_pytrace("--emit", str(path), "-e", "BEGIN { printf(\"hi\\n\"); exit(); }").rc == 0
    data = path.read_bytes()
    build_id = artifact_file.kernel_build_id()
    assert build_id and build_id.encode() in data
    path.write_bytes(data.replace(build_id.encode(), b"0" * len(build_id)))
    r = run_pytrace(str(path))
    assert r.rc == 1 and r.out == ""
    assert r.err.startswith(f"ERROR: {path} was compiled for kernel {os.uname().release} (build id 0000000000000000), "
                            f"but this kernel is {os.uname().release} (build id {build_id[:16]})")


@pytest.mark.kernel
def test_aot_writes_an_executable_compiled_again_for_other_program_options(tmp_path):
    path = str(tmp_path / "prog")
    prog = 'BEGIN { print((getopt("aa", 10), getopt("cc", true), getopt("dd"))); exit(); }'
    r = run_pytrace("--aot", path, "-e", prog, "--", "--aa=3")
    assert (r.rc, r.out) == (0, ""), r
    assert os.access(path, os.X_OK)
    env = dict(os.environ, PYTRACE_NO_CACHE="1")
    runs = {(): "(10, true, false)\n", ("--aa=3",): "(3, true, false)\n",
            ("--dd", "--aa=20", "--cc=False"): "(20, false, true)\n"}
    for options, printed in runs.items():
        proc = subprocess.run([path, "--", *options], capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0 and proc.stdout.startswith(printed), (options, proc.stdout, proc.stderr)
    # without a compiler, only the options it was compiled with
    proc = subprocess.run([sys.executable, "-c", NO_COMPILER, path, "--", "--aa=4"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 1 and "compiled with program options ['aa=3']" in proc.stderr, proc.stderr
