"""The pure side of uprobe_multi links (issue 9): the link_create attr matches the
kernel's union bpf_attr, and a wildcard uprobe's shared program is loaded for
uprobe_multi with one attach dict per binary (a probe using `func` keeps one
program, and one perf event, per function)."""

import ctypes
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from pytrace.runtime import bpf, loader

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def test_link_attr_layout_is_the_kernels():
    """link_create.uprobe_multi: path, offsets, ref_ctr_offsets, cookies (u64 each, after
    prog_fd, target_fd, attach_type, flags), then cnt, flags, pid (u32)."""
    A = bpf.UprobeMultiLinkAttr
    assert [(name, getattr(A, name).offset) for name in
            ("prog_fd", "target_fd", "attach_type", "flags", "path", "offsets", "ref_ctr_offsets", "cookies",
             "cnt", "multi_flags", "pid")] == [
        ("prog_fd", 0), ("target_fd", 4), ("attach_type", 8), ("flags", 12), ("path", 16), ("offsets", 24),
        ("ref_ctr_offsets", 32), ("cookies", 40), ("cnt", 48), ("multi_flags", 52), ("pid", 56)]
    assert ctypes.sizeof(A) % 8 == 0


def test_program_type_is_a_kprobe_program():
    assert loader.PROG_TYPES["uprobe_multi"] == loader.PROG_TYPES["kprobe"]


@pytest.fixture(scope="module")
def sample():
    out = os.path.join(tempfile.mkdtemp(prefix="pytrace-umulti-"), "sample")
    with open(out + ".c", "w") as f:
        f.write("int wf_a(int x) { return x + 1; }\nint wf_b(int x) { return x + 2; }\n"
                "int main(void) { return wf_a(1) + wf_b(2) - 6; }\n")
    subprocess.run(["gcc", "-O0", "-o", out, out + ".c"], check=True)
    return out


def _compile(text: str, **options):
    return generate(analyse(Source("stdin", text), fixture_options(**options)))


@needs_gcc
@pytest.mark.parametrize("probe,retprobe", [("uprobe", False), ("uretprobe", True)])
def test_wildcard_is_one_uprobe_multi_attach_dict(sample, probe, retprobe):
    art = _compile(f"{probe}:{sample}:wf_* {{ @ = count(); }}")
    [prog] = art.programs
    assert prog.prog_type == "uprobe_multi"
    assert prog.attach == [{"kind": "uprobe_multi", "binary": sample, "funcs": ["wf_a", "wf_b"],
                            "retprobe": retprobe, "unsafe": False, "attach_points": 2}]


@needs_gcc
def test_no_wildcard_or_an_offset_stays_on_perf_events(sample):
    art = _compile(f"uprobe:{sample}:wf_a {{ @ = count(); }} uprobe:{sample}:wf_b+1 {{ @b = count(); }}")
    assert [p.prog_type for p in art.programs] == ["kprobe", "kprobe"]
    assert [a["kind"] for p in art.programs for a in p.attach] == ["uprobe", "uprobe"]


@needs_gcc
def test_func_keeps_one_program_per_function(sample):
    art = _compile(f"uprobe:{sample}:wf_* {{ @[func] = count(); }}")
    assert [(p.prog_type, [a["func"] for a in p.attach]) for p in art.programs] == [
        ("kprobe", ["wf_a"]), ("kprobe", ["wf_b"])]
