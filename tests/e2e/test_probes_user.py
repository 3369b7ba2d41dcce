"""End-to-end: uprobe/uretprobe, usdt and watchpoint probes on small C and
C++ programs compiled here (tests/e2e/fixtures), with exact output."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_pytrace

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def _build(tmp_path_factory, source: str, name: str, *flags: str) -> str:
    out = str(tmp_path_factory.mktemp("bin") / name)
    compiler = "g++" if source.endswith(".cc") else "gcc"
    subprocess.run([compiler, *flags, "-o", out, os.path.join(FIXTURES, source)], check=True)
    return out


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """probes_target at -O0, not PIE (fixed addresses for the watchpoint; usdt
    arguments in memory: `-4@-12(%rbp)`)."""
    return _build(tmp_path_factory, "probes_target.c", "probes_target", "-O0", "-no-pie")


@pytest.fixture(scope="module")
def target_o2(tmp_path_factory):
    """probes_target at -O2, PIE (usdt arguments in registers and constants)."""
    return _build(tmp_path_factory, "probes_target.c", "probes_target", "-O2")


@pytest.fixture(scope="module")
def target_cxx(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    return _build(tmp_path_factory, "probes_target_cxx.cc", "probes_cxx", "-O1")


def _symbol(binary: str, name: str) -> int:
    for line in subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split()
        if fields[-1] == name:
            return int(fields[0], 16)
    raise KeyError(name)


# ---------------------------------------------------------------- uprobe / uretprobe

def test_uprobe_args_retval_func(target):
    prog = (f"uprobe:{target}:pyt_add {{ @args[arg0, arg1] = sum(arg0 + 1); @f[func] = count(); }} "
            f"ur:{target}:pyt_add {{ @ret = sum(retval); }}")
    r = run_pytrace("-e", prog, "-c", f"{target} 4")
    assert r.rc == 0, r
    assert r.err == "Attached 2 probes\n", r
    assert r.out == ("\n\n@args[0, 100]: 1\n@args[1, 100]: 2\n@args[2, 100]: 3\n@args[3, 100]: 4\n"
                     "@f[pyt_add]: 4\n@ret: 406\n"), r


@pytest.mark.parametrize("probe", ["uprobe", "uretprobe", "usdt"])
def test_probes_on_one_event_run_in_declared_order(probe, target):
    """The kernel runs the uprobes of one place newest first: they are attached
    in reverse (as bpftrace does), so the first declared still prints first,
    also beside a tracepoint (attached in order) between them."""
    where = f"{target}:pyt:loop" if probe == "usdt" else f"{target}:pyt_add"
    prog = (f'{probe}:{where} {{ printf("first"); }} '
            f'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {{ printf(" tp\\n"); }} '
            f'{probe}:{where} {{ printf(" second\\n"); }}')
    r = run_pytrace("-e", prog, "-c", f"{target} 2")
    assert r.rc == 0, r
    once = " tp\nfirst second\n" if probe == "usdt" else "first second\n tp\n"  # pyt:loop is after getppid()
    assert r.out == once * 2 + "\n\n", r


def test_script_struct_char_array_reads_one_byte_more(target):
    """`char s[4]` holding "done" (with its NUL after it) prints whole: a
    script's char[N] member is a string of N + 1 bytes, as in bpftrace."""
    prog = (f"struct F {{ char s[4]; }} usdt:{target}:pyt:done {{ $a = ((struct F *)arg0)->s;"
            f' printf("%s %s|%d\\n", $a, $a, sizeof($a)); }}')
    r = run_pytrace("-e", prog, "-c", f"{target} 1")
    assert r.rc == 0, r
    assert r.out == "done done|5\n\n\n", r


def test_uprobe_offset_address_and_wildcard(target):
    addr = _symbol(target, "pyt_add")
    prog = (f"uprobe:{target}:{addr:#x} {{ @a = count(); }} uprobe:{target}:pyt_add+4 {{ @o = count(); }} "
            f"u:{target}:pyt_a* {{ @w[probe] = count(); }}")
    r = run_pytrace("-e", prog, "-c", f"{target} 3")
    assert r.rc == 0, r
    assert r.out == f"\n\n@a: 3\n@o: 3\n@w[uprobe:{target}:pyt_add]: 3\n", r


def test_uprobe_library_name_resolves_to_libc(target):
    r = run_pytrace("-e", "uprobe:libc:getppid /pid == cpid/ { @ = count(); }", "-c", f"{target} 7")
    assert r.rc == 0, r
    assert r.out == "\n\n@: 7\n", r


def test_uprobe_pid_targets_running_process(target):
    """-p PID: attach to a running process (a bare library name is found in its maps)."""
    proc = subprocess.Popen([target, "5", "wait"], stdin=subprocess.PIPE)
    try:
        tracer = subprocess.Popen(
            [sys.executable, "-m", "pytrace", "-p", str(proc.pid), "-e",
             f"uprobe:libc:getppid {{ @g = count(); }} uprobe:{target}:pyt_add {{ @s = sum(arg0); }}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTRACE_NO_CACHE="1"))
        assert tracer.stderr.readline() == "Attached 2 probes\n"
        proc.stdin.write(b"g")
        proc.stdin.close()
        proc.wait(timeout=30)  # reaped, so its /proc entry goes and pytrace stops
        out, err = tracer.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert tracer.returncode == 0, err
    assert out == "\n\n@g: 5\n@s: 10\n", (out, err)


def test_uprobe_cxx_demangled_names(target_cxx):
    prog = (f'uprobe:{target_cxx}:cpp:"pyt::Widget::*" {{ @[func] = count(); }} '
            f'uprobe:{target_cxx}:"pyt::helper" {{ @h = sum(arg0); }}')
    r = run_pytrace("-e", prog, "-c", f"{target_cxx} 5")
    assert r.rc == 0, r
    assert r.err == "Attached 3 probes\n", r
    assert r.out.startswith("\n\n"), r
    assert sorted(r.out.split("\n")[2:]) == ["", "@[pyt::Widget::poke(int)]: 5", "@[pyt::Widget::prod(int)]: 5",
                                             "@h: 10"], r


def test_uprobe_missing_symbol_is_a_diagnostic(target):
    r = run_pytrace("-e", f"uprobe:{target}:nothere {{ }}")
    assert r.rc == 1, r
    prog = f"uprobe:{target}:nothere {{ }}"
    assert r.err == (f"stdin:1:1-{len(prog) - 3}: ERROR: No matches for uprobe {target}:nothere.\n{prog}\n"
                     f"{'~' * (len(prog) - 4)}\nHINT: list them with: pytrace -l 'uprobe:{target}:*'\n"), r


# ---------------------------------------------------------------- usdt

@pytest.mark.parametrize("build", ["target", "target_o2"])
def test_usdt_arguments_and_semaphore(build, request):
    binary = request.getfixturevalue(build)
    prog = (f'usdt:{binary}:pyt:loop {{ printf("%d %d %d\\n", arg0, arg1, arg2); }} '
            f"U:{binary}:guarded {{ @g = sum(arg0); }} "
            f'usdt:{binary}:pyt:done {{ printf("%s %d\\n", str(arg0), arg1); }}')
    r = run_pytrace("-e", prog, "-c", f"{binary} 4")
    assert r.rc == 0, r
    assert r.err == "Attached 3 probes\n", r
    # `guarded` only fires while its semaphore is set: the kernel sets it for us.
    assert r.out == "0 100 0\n1 201 -1\n2 303 -2\n3 406 -3\ndone 7\n\n\n@g: 12\n", r


def test_usdt_unknown_probe(target):
    prog = f"usdt:{target}:nope {{ }}"
    r = run_pytrace("-e", prog)
    assert r.rc == 1, r
    assert f"ERROR: No matches for usdt {target}:nope.\n" in r.err, r


# ---------------------------------------------------------------- watchpoint, software

def test_watchpoint_counts_writes(target):
    addr = _symbol(target, "pyt_watched")
    # exec itself writes there too (the kernel zeroes .bss): count from main() on
    r = run_pytrace("-e", f"uprobe:{target}:main {{ @main = 1; }} watchpoint:{addr:#x}:8:w /@main/ {{ @ = count(); }}",
                    "-c", f"{target} 25")
    assert r.rc == 0, r
    assert r.err == "Attached 2 probes\n", r
    assert r.out == "\n\n@: 25\n@main: 1\n", r


def test_software_page_faults_exact(target):
    prog = (f"usdt:{target}:pages_begin {{ @on[tid] = 1; }} usdt:{target}:pages_end {{ delete(@on[tid]); }} "
            "software:page-faults:1 /@on[tid]/ { @faults = count(); }")
    r = run_pytrace("-e", prog, "-c", f"{target} 300 pages")
    assert r.rc == 0, r
    assert r.out == "\n\n@faults: 300\n", r


# ---------------------------------------------------------------- listing

def test_list_uprobe_functions(target):
    r = run_pytrace("-l", f"uprobe:{target}:pyt_*")
    assert r.rc == 0, r
    assert r.out == f"uprobe:{target}:pyt_add\n", r


def test_list_usdt_probes_verbose_is_names_only(target):
    """bpftrace's -lv knows nothing more about a USDT probe than its name;
    the list is sorted as bpftrace's std::set is."""
    r = run_pytrace("-lv", f"usdt:{target}:pyt:*o*")
    assert r.rc == 0, r
    assert r.out == f"usdt:{target}:pyt:done\nusdt:{target}:pyt:loop\n", r


def test_list_program_probes(target):
    r = run_pytrace("-l", "-e", f"U:{target}:guarded {{ }} u:{target}:pyt_a* {{ }} w:0x1000:8:rw {{ }}")
    assert r.rc == 0, r
    assert r.out == (f"usdt:{target}:pyt:guarded\nuprobe:{target}:pyt_add\n"), r  # bpftrace lists no watchpoint
