"""End-to-end: a wildcard uprobe/uretprobe attaches through one uprobe_multi
link per binary (issue 9), with exact counts, and leaves no link behind; with
PYTRACE_UPROBE_MULTI=0, the per-function perf events give the same results."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import run_pytrace

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ROUNDS = 5
SUM = ROUNDS * (1 + 2 * 2 + 3 * 3 + 4)  # what the target prints


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bin") / "multi_target")
    subprocess.run(["gcc", "-O1", "-o", out, os.path.join(FIXTURES, "multi_target.c")], check=True)
    return out


def uprobe_multi_links() -> list[dict]:
    out = subprocess.run(["bpftool", "-j", "link", "show"], capture_output=True, text=True).stdout
    return [link for link in json.loads(out or "[]") if link.get("type") in ("uprobe_multi", 12)]


def _supported() -> bool:
    from pytrace.runtime import uprobe_multi

    return uprobe_multi.supported()


def test_one_link_exact_counts_nothing_left(target):
    """One uprobe_multi link holds the three functions while the probe runs
    (bpftool lists it, from the probe's system()); it is gone after the run."""
    if not _supported():
        pytest.skip("no uprobe_multi links in this kernel")
    before = {link["id"] for link in uprobe_multi_links()}
    prog = (f"uprobe:{target}:mt_fn_* {{ @ = count(); }} "
            f"uprobe:{target}:mt_fn_one {{ system(\"bpftool link | grep -cE 'uprobe_multi|type 12'\"); }}")
    r = run_pytrace("--unsafe", "-e", prog, "-c", f"{target} {ROUNDS} 300")
    assert r.rc == 0, r
    assert r.err == "Attached 4 probes\n", r
    # the first probe's link, and the single-function probe's perf event (no wildcard) is none
    counts = [int(line) for line in r.out.split() if line.isdigit() and int(line) < 100]
    assert counts and all(n >= 1 for n in counts), r
    assert f"@: {ROUNDS * 6}\n" in r.out, r
    deadline = time.monotonic() + 5
    while {link["id"] for link in uprobe_multi_links()} - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not {link["id"] for link in uprobe_multi_links()} - before


@pytest.mark.parametrize("multi", ["1", "0"])
def test_wildcard_counts_per_func_and_probe(target, multi):
    """`func` and `probe` differ per attach point: exact counts (such a probe
    keeps one program per function)."""
    prog = f"uprobe:{target}:mt_fn_* {{ @f[func] = count(); @p[probe] = count(); }}"
    r = run_pytrace("-e", prog, "-c", f"{target} {ROUNDS}", env={"PYTRACE_UPROBE_MULTI": multi})
    assert r.rc == 0, r
    assert r.out == (f"{SUM}\n\n\n@f[mt_fn_one]: {ROUNDS}\n@f[mt_fn_two]: {2 * ROUNDS}\n"
                     f"@f[mt_fn_three]: {3 * ROUNDS}\n"
                     f"@p[uprobe:{target}:mt_fn_one]: {ROUNDS}\n@p[uprobe:{target}:mt_fn_two]: {2 * ROUNDS}\n"
                     f"@p[uprobe:{target}:mt_fn_three]: {3 * ROUNDS}\n"), r


@pytest.mark.parametrize("multi", ["1", "0"])
def test_uretprobe_wildcard_retval(target, multi):
    prog = f"uretprobe:{target}:mt_fn_* {{ @r[retval] = count(); @n = count(); }}"
    r = run_pytrace("-e", prog, "-c", f"{target} {ROUNDS}", env={"PYTRACE_UPROBE_MULTI": multi})
    assert r.rc == 0, r
    assert r.err == "Attached 3 probes\n", r
    assert r.out == (f"{SUM}\n\n\n@n: {6 * ROUNDS}\n"
                     f"@r[1]: {ROUNDS}\n@r[2]: {2 * ROUNDS}\n@r[3]: {3 * ROUNDS}\n"), r


@pytest.mark.parametrize("multi", ["1", "0"])
def test_wildcard_with_pid_counts_only_that_process(target, multi):
    """With -p, the link (or each perf event) follows one process: a second
    run of the target at the same time is not counted."""
    traced = subprocess.Popen([target, str(ROUNDS), "4000"], stdout=subprocess.DEVNULL)
    other = subprocess.Popen([target, str(ROUNDS * 2), "4000"], stdout=subprocess.DEVNULL)
    tracer = subprocess.Popen([sys.executable, "-m", "pytrace", "-e", "uprobe:*:mt_fn_* { @ = count(); }",
                               "-p", str(traced.pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTRACE_NO_CACHE": "1", "PYTRACE_UPROBE_MULTI": multi})
    try:
        traced.wait(10)  # reaped: pytrace sees the process gone and ends
        other.wait(10)
        out, err = tracer.communicate(timeout=30)
    finally:
        tracer.kill()
    assert tracer.returncode == 0, (out, err)
    assert err == "Attached 3 probes\n", err
    assert out == f"\n\n@: {6 * ROUNDS}\n", out
