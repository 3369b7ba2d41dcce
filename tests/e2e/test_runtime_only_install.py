"""A runtime-only install (README, "Running without a compiler"), done for real and offline:
a wheel built from this checkout is installed with --no-deps into a fresh virtualenv that
has no lark and no llvmlite, and that venv's pytrace runs a file compiled with --emit."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, py_workload, run_pytrace

# What the wheel is built from: the checkout, without what is not part of pytrace
# (pip builds in the tree, so building from a copy leaves the checkout untouched).
NOT_SHIPPED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "tests", "__pycache__", "*.egg-info",
                                     ".pytest_cache", ".hypothesis")


def run(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> str:
    """The README's two steps: build the wheel with the dev venv's pip, install it with a new venv's."""
    tmp = tmp_path_factory.mktemp("runtime_only")
    source, dist, venv = tmp / "pytrace", tmp / "dist", str(tmp / "venv")
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                "-w", str(dist), str(source))
    assert built.returncode == 0, ("building the wheel needs setuptools>=70.1 in the dev venv "
                                   "(pip install -e '.[test]'):\n" + built.stdout + built.stderr)
    wheel = dist / "pytrace-0.1.0-py3-none-any.whl"
    assert wheel.exists(), os.listdir(dist)
    base = getattr(sys, "_base_executable", sys.executable)  # the interpreter behind the dev venv
    made = run(base, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    installed = run(f"{venv}/bin/pip", "install", "--no-deps", "--no-index", str(wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def in_venv(venv: str, *argv: str) -> subprocess.CompletedProcess:
    """Run a command of the venv from outside the checkout, as on another machine."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTRACE_NO_CACHE"] = "1"
    return run(f"{venv}/bin/{argv[0]}", *argv[1:], cwd="/", env=env)


@pytest.mark.kernel
def test_the_venv_has_no_compiler_and_its_own_pytrace(venv):
    for module in ("lark", "llvmlite"):
        r = in_venv(venv, "python", "-c", f"import {module}")
        assert r.returncode == 1 and f"No module named '{module}'" in r.stderr, r
    r = in_venv(venv, "python", "-c", "import pytrace, sys; print(pytrace.__file__)")
    assert r.stdout.startswith(f"{venv}/lib/"), r
    # the package data came along, and nothing of the checkout that is not pytrace
    r = in_venv(venv, "python", "-c", "import glob, os, pytrace; d = os.path.dirname(pytrace.__file__); "
                "print(*sorted(os.path.relpath(p, d) for p in glob.glob(d + '/*/*.lark') + glob.glob(d + '/*/*.bt')"
                " + glob.glob(d + '/tests')))")
    shipped = r.stdout.split()
    assert "grammar/pytrace.lark" in shipped and "scripts/opensnoop.bt" in shipped and "tests" not in shipped, r


@pytest.mark.kernel
def test_help_and_info_work_without_a_compiler(venv):
    r = in_venv(venv, "pytrace", "--help")
    assert r.returncode == 0 and r.stdout.startswith("pytrace - a bpftrace-compatible tracing language"), r
    r = in_venv(venv, "pytrace", "--info")
    assert r.returncode == 0 and "  LLVM: none\n" in r.stdout and "Traceback" not in r.stderr, r


@pytest.mark.kernel
def test_a_program_text_is_refused_in_one_line(venv):
    r = in_venv(venv, "pytrace", "-e", "BEGIN { exit(); }")
    assert (r.returncode, r.stdout) == (1, ""), r
    assert r.stderr.startswith("ERROR: this pytrace has no compiler (lark is not installed)"), r
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r


@pytest.mark.kernel
def test_an_emitted_file_runs_in_the_runtime_only_venv(venv, tmp_path):
    path = str(tmp_path / "getppid.ptc")
    r = run_pytrace("--emit", path, "-c", "true", "-e",
                    'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("ppid %s\\n", comm); @n = count(); }')
    assert (r.rc, r.out) == (0, ""), r
    workload = py_workload("import os\nfor _ in range(3): os.getppid()")
    r = in_venv(venv, "pytrace", path, "-c", workload)
    comm = os.path.basename(sys.executable)[:15]
    assert (r.returncode, r.stdout) == (0, f"ppid {comm}\n" * 3 + "\n\n@n: 3\n"), r


@pytest.mark.kernel
def test_user_stacks_print_without_source_locations(venv, tmp_path):
    """Source locations come from DWARF, read with pyelftools, which --no-deps leaves out:
    frames print as bpftrace's built without libdw, never a traceback."""
    path = str(tmp_path / "ustack.ptc")
    r = run_pytrace("--emit", path, "-e", "BEGIN { print(ustack(1)); exit(); }")
    assert (r.rc, r.out) == (0, ""), r
    r = in_venv(venv, "pytrace", path)
    assert r.returncode == 0 and re.fullmatch(r"\n {8}[\w.]+\+\d+\n\n+", r.stdout), r
