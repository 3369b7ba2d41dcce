"""The Python API (pytrace.compile / Program.attach / Probes) against the live kernel."""

import gc
import os
import secrets

import pytest

import pytrace
from conftest import bpf_fds, kernel_maps, map_freed
from pytrace.runtime.output.values import Hist

ME = os.getpid()
GETPPID = f"tracepoint:syscalls:sys_enter_getppid /pid == {ME}/"




def my_comm() -> str:
    with open("/proc/self/comm") as f:
        return f.read().strip()


def test_compile_error_is_rendered_diagnostics():
    with pytest.raises(pytrace.CompileError) as info:
        pytrace.compile("BEGIN { foo(); }")
    assert str(info.value) == ("stdin:1:9-14: ERROR: Unknown function: 'foo'\n"
                               "BEGIN { foo(); }\n"
                               "        ~~~~~\n")


@pytest.mark.kernel  # compiles for this machine's tracepoints
def test_program_lists_probes_and_maps():
    prog = pytrace.compile(f"{GETPPID} {{ @b = count(); @a[comm] = sum(1); }} END {{ }}")
    assert prog.probes == ["tracepoint:syscalls:sys_enter_getppid", "end"]
    assert prog.map_names == ["@a", "@b"]


@pytest.mark.kernel
def test_counter_exact_count_then_detach_releases_everything():
    name = "@api" + secrets.token_hex(4)
    before = bpf_fds()
    prog = pytrace.compile(f"{GETPPID} {{ {name} = count(); @by[comm] = count(); @h = hist(5); }}")
    with prog.attach() as probes:
        assert probes.attached == 1
        assert name[1:] in kernel_maps()
        for _ in range(37):
            os.getppid()
        maps = probes.maps()
        assert maps[name] == 37
        assert maps["@by"] == {(my_comm(),): 37}
        assert isinstance(maps["@h"], Hist) and maps["@h"].buckets == {4: 37}
        probes.detach()
        os.getppid()
        assert probes.maps()[name] == 37  # detached: still readable, no longer counting
        assert probes.format_maps() == (f"{name}: 37\n"
                                        f"@by[{my_comm()}]: 37\n"
                                        "@h:\n[4, 8)                37 |@@@@@@@@@@@@@@@@@@@@@@@@@"
                                        "@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n")
    assert probes.closed
    assert bpf_fds() == before
    assert map_freed(name[1:])
    with pytest.raises(RuntimeError):
        probes.maps()


@pytest.mark.kernel
def test_printf_events_begin_and_end():
    before = bpf_fds()
    probes = pytrace.attach(f'BEGIN {{ printf("begin\\n"); }} {GETPPID} {{ printf("ppid %d\\n", @n++); }} '
                            'END { printf("end %d\\n", @n); }')
    try:
        for _ in range(3):
            os.getppid()
        assert [e.text for e in probes.events(timeout=0.5)] == ["begin\n", "ppid 0\n", "ppid 1\n", "ppid 2\n"]
        lines = []
        probes.on_printf(lines.append)
        os.getppid()
        assert probes.poll(1.0) == 1
        assert lines == ["ppid 3\n"]
        probes.detach()
        assert lines == ["ppid 3\n", "end 4\n"]
        assert probes.maps() == {"@n": 4}
    finally:
        probes.close()
    assert bpf_fds() == before


@pytest.mark.kernel
def test_exit_detaches_and_runs_end():
    probes = pytrace.attach('BEGIN { @x = 5; exit(3); } END { printf("end\\n"); }')
    with probes:
        assert probes.exited and probes.exit_code == 3
        assert probes.attached == 0
        assert [str(e) for e in probes.events()] == ["end\n"]
        assert probes.maps() == {"@x": 5}


@pytest.mark.kernel
def test_params_and_print_events():
    with pytrace.attach('BEGIN { @k[$1] = $2; print(@k); print((1, "a")); }', params=("x", 7)) as probes:
        events = list(probes.events(timeout=0.2))
    assert [(e.kind, e.text) for e in events] == [("print", "@k[x]: 7\n"), ("print", "(1, a)\n")]
    assert events[0].value.entries == [(("x",), 7)]


@pytest.mark.kernel
def test_attach_error_leaves_nothing():
    before = bpf_fds()
    prog = pytrace.compile(f"{GETPPID} {{ @ = count(); }} tracepoint:ftrace:function {{ }}")
    with pytest.raises(pytrace.AttachError) as info:
        prog.attach()
    assert info.value.probe == "tracepoint:ftrace:function"  # compiles; the kernel refuses it
    assert str(info.value).startswith("stdin:1:")
    assert "Traceback" not in str(info.value)
    assert bpf_fds() == before


@pytest.mark.kernel
def test_garbage_and_exceptions_release_everything():
    before = bpf_fds()
    probes = pytrace.attach(f"{GETPPID} {{ @ = count(); }}")
    assert len(bpf_fds()) > len(before)
    del probes
    gc.collect()
    assert bpf_fds() == before
    with pytest.raises(ZeroDivisionError):
        with pytrace.attach(f"{GETPPID} {{ @ = count(); }}"):
            1 / 0
    assert bpf_fds() == before
