"""The bind_probes pass: attach points bound to providers and wildcards
expanded, against the fixture kernel (tests/fixtures/kernel)."""

from conftest import FIXTURE_KERNEL, pass_errors, run_passes


def names(text: str) -> list[list[str]]:
    return [[s.name for s in unit.specs] for unit in run_passes(text, "bind_probes").units]


def test_tracepoint_wildcard_expands_over_the_fixture_tracefs():
    assert names("t:syscalls:sys_enter_getp* { }") == [
        ["tracepoint:syscalls:sys_enter_getpid", "tracepoint:syscalls:sys_enter_getppid"]]


def test_kprobe_wildcard_uses_the_kernel_function_list():
    assert names("k:vfs_* { }") == [["kprobe:vfs_open", "kprobe:vfs_read", "kprobe:vfs_write"]]


def test_fentry_and_rawtracepoint_use_btf_and_tracepoints():
    assert names("fentry:vfs_read { } rt:sched_sw* { }") == [["fentry:vfs_read"], ["rawtracepoint:vmlinux:sched_switch"]]


def test_specs_carry_the_kernel_they_were_expanded_for():
    ctx = run_passes("t:syscalls:sys_enter_openat { } BEGIN { }", "bind_probes")
    assert [s.kernel for u in ctx.units for s in u.specs] == [FIXTURE_KERNEL, FIXTURE_KERNEL]
    assert ctx.program.probes[0].attach_points[0].provider is ctx.units[0].provider


def test_unknown_tracepoint():
    assert pass_errors("tracepoint:nosuch:event { }", "bind_probes") == (
        "stdin:1:1-24: ERROR: No matches for tracepoint nosuch:event.\n"
        "tracepoint:nosuch:event { }\n"
        "~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_wildcard_matching_nothing_is_dropped_silently():
    ctx = run_passes("kprobe:nosuch*,k:vfs_read { }", "bind_probes")
    assert ctx.diags.render() == ""
    assert [[s.name for s in u.specs] for u in ctx.units] == [["kprobe:vfs_read"]]


def test_fentry_without_btf_for_the_function():
    assert pass_errors("fentry:nosuch { }", "bind_probes") == (
        "stdin:1:1-14: ERROR: No matches for fentry nosuch.\n"
        "fentry:nosuch { }\n"
        "~~~~~~~~~~~~~\n")


def test_unknown_provider_suggests_the_closest():
    assert pass_errors("kprobx:f { }", "bind_probes") == (
        "stdin:1:1-9: ERROR: Invalid probe type: kprobx\n"
        "kprobx:f { }\n"
        "~~~~~~~~\n"
        "HINT: Did you mean kprobe?\n")
