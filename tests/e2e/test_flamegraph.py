"""Flame graphs of a real profile: a C program spends three quarters of its
time in work_a() and one quarter in work_b(), both through spin(); pytrace
profiles it (profile:hz, ustack) and writes folded stacks and an SVG, which
headless Chromium then renders."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import ROOT

pytestmark = pytest.mark.kernel

C_SOURCE = r"""
#include <stdio.h>
volatile unsigned long sink;
__attribute__((noinline)) void spin(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i; }
__attribute__((noinline)) void work_a(void) { spin(300000000UL); }
__attribute__((noinline)) void work_b(void) { spin(100000000UL); }
int main(void) {
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;  /* wait until the profiler is attached */
    work_a();
    work_b();
    puts("done");
    fflush(stdout);
    fgets(line, sizeof line, stdin);  /* stay alive (for symbols) until told */
    return 0;
}
"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    """Profile the program once: (folded text, SVG path)."""
    tmp = tmp_path_factory.mktemp("flame")
    (tmp / "prog.c").write_text(C_SOURCE)
    binary = str(tmp / "prog")
    subprocess.run(["gcc", "-O0", "-no-pie", "-fno-omit-frame-pointer", "-o", binary, str(tmp / "prog.c")],
                   check=True)
    prog = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    folded, svg = tmp / "out.folded", tmp / "flame.svg"
    tracer = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "pytrace"), "--stacks-out", str(folded),
                               "--flamegraph", str(svg), "-e",
                               "profile:hz:499 /pid == $1/ { @[ustack] = count(); }", str(prog.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    try:
        assert "Attached 1 probe" in tracer.stderr.readline()
        prog.stdin.write("go\n")
        prog.stdin.flush()
        assert prog.stdout.readline() == "done\n"
        tracer.send_signal(signal.SIGINT)
        out, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
        prog.stdin.write("bye\n")
        prog.stdin.flush()
        prog.wait(timeout=10)
    finally:
        for p in (tracer, prog):
            if p.poll() is None:
                p.kill()
                p.wait()
    return folded.read_text(), str(svg), out


def test_folded_stacks_nest_and_weigh_the_functions(profile):
    text, _, out = profile
    counts = {}
    for line in text.splitlines():
        path, count = line.rsplit(" ", 1)
        frames = path.split(";")
        if not any(f.startswith("spin") for f in frames):
            # A sample outside the work loop (e.g. in libc's strlen, a leaf without a frame
            # pointer, so the frame-pointer walk skips its caller): not what this test weighs.
            continue
        assert "main" in frames, line
        counts[";".join(frames[frames.index("main"):])] = int(count)
    assert set(counts) == {"main;work_a;spin", "main;work_b;spin"}, text
    share = counts["main;work_a;spin"] / sum(counts.values())
    assert 0.6 < share < 0.9, counts  # 3/4 of the work, sampled
    assert "        spin+" in out  # the usual map output too


def test_flame_graph_boxes(profile):
    _, svg_path, _ = profile
    svg = open(svg_path).read()
    boxes = {m["name"]: (float(m["x"]), float(m["w"]), int(m["depth"])) for m in re.finditer(
        r'data-name="(?P<name>[^"]*)" data-count="\d+" data-x="(?P<x>[^"]*)" data-w="(?P<w>[^"]*)" '
        r'data-depth="(?P<depth>\d+)"', svg)}
    main, a, b = boxes["main"], boxes["work_a"], boxes["work_b"]
    assert a[2] == b[2] == main[2] + 1
    assert 0.6 < a[1] / main[1] < 0.9 and abs(a[1] + b[1] - main[1]) < 1e-9
    assert svg.count('data-name="spin"') == 2  # under each caller


def test_chromium_renders_and_searches_it(profile, tmp_path):
    _, svg_path, _ = profile
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: run scripts/setup.sh (Debian package chromium)"
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", f"file://{svg_path}#s=work_b"],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-ready="1"' in dom  # its script ran without an error
    matched = re.search(r'<text id="matched"[^>]*>Matched: ([\d.]+)%</text>', dom)
    assert matched and 10 < float(matched.group(1)) < 40, dom[-2000:]
    png = tmp_path / "flame.png"
    subprocess.run([chromium, *flags, "--hide-scrollbars", "--window-size=1200,200", f"--screenshot={png}",
                    f"file://{svg_path}"], capture_output=True, timeout=120)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000


UPROBE_SOURCE = r"""
#include <unistd.h>
__attribute__((noinline)) int b(int x) { return getppid() + x; }
__attribute__((noinline)) int a(int x) { return b(x + 1) + 1; }
int main(void) { int s = 0; for (int i = 0; i < 3; i++) s += a(i); return s == 0; }
"""


def test_format_folded_prints_stack_maps_folded(tmp_path):
    (tmp_path / "prog.c").write_text(UPROBE_SOURCE)
    binary = str(tmp_path / "prog")
    subprocess.run(["gcc", "-O0", "-no-pie", "-fno-omit-frame-pointer", "-o", binary, str(tmp_path / "prog.c")],
                   check=True)
    r = subprocess.run([os.path.join(ROOT, ".venv", "bin", "pytrace"), "-f", "folded", "-e",
                        f"uprobe:{binary}:b {{ @[ustack] = count(); @n = count(); }}", "-c", binary],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    assert r.returncode == 0, r.stderr
    stacks, n = r.stdout.splitlines()
    assert re.fullmatch(r"(\S+;)*main;a;b 3", stacks), r.stdout  # frames above main: libc's start code
    assert n == "@n: 3"
