"""The missing_probes pass, and the attach points bind_probes drops, against the
fixture kernel: bpftrace's messages for each `missing_probes` setting."""

from conftest import pass_errors, run_passes

WARN = "config = { missing_probes = warn } "
IGNORE = "config = { missing_probes = ignore } "


def test_a_named_attach_point_matching_nothing_is_an_error():
    assert pass_errors("t:syscalls:sys_enter_getpid,t:syscalls:nonsense { }", "missing_probes") == (
        "stdin:1:29-48: ERROR: No matches for tracepoint syscalls:nonsense.\n"
        "t:syscalls:sys_enter_getpid,t:syscalls:nonsense { }\n"
        "                            ~~~~~~~~~~~~~~~~~~~\n")


def test_a_probe_left_without_attach_points_is_an_error():
    assert pass_errors("t:nosuch:* { }", "missing_probes") == (
        "stdin:1:1-15: ERROR: Probe has no valid attach points. If this is expected, "
        "set the 'missing_probes' config variable to 'warn'.\n"
        "t:nosuch:* { }\n"
        "~~~~~~~~~~~~~~\n")


def test_warn_skips_the_attach_point_and_removes_the_empty_probe():
    ctx = run_passes(WARN + "t:syscalls:sys_enter_getpid { @a = 1; } t:syscalls:nonsense { @b = 1; } "
                     "t:syscalls:sys_enter_getppid { }", "missing_probes")
    text = ctx.diags.render()
    assert "WARNING: No matches for tracepoint syscalls:nonsense. Skipping.\n" in text
    assert ("WARNING: Probe has no valid attach points. It is being removed which may cause issues "
            "with program behavior.\n") in text
    assert len(ctx.program.probes) == 2
    assert [(u.index, u.specs[0].name) for u in ctx.units] == [
        (0, "tracepoint:syscalls:sys_enter_getpid"), (1, "tracepoint:syscalls:sys_enter_getppid")]


def test_ignore_says_nothing():
    ctx = run_passes(IGNORE + "t:syscalls:sys_enter_getpid,t:syscalls:nonsense { } k:nosuch* { }",
                     "missing_probes")
    assert ctx.diags.render() == ""
    assert [[s.name for s in u.specs] for u in ctx.units] == [["tracepoint:syscalls:sys_enter_getpid"]]
    assert len(ctx.program.probes) == 1


def test_every_probe_removed_leaves_an_empty_program():
    ctx = run_passes(IGNORE + "t:syscalls:nonsense { }", "typecheck")
    assert ctx.units == [] and ctx.program.probes == []


def test_fentry_and_rawtracepoint_messages():
    assert "ERROR: No matches for fentry nonsense.\n" in pass_errors("fentry:nonsense { }", "missing_probes")
    assert "ERROR: No matches for rawtracepoint nonsense:sched_switch.\n" in pass_errors(
        "rawtracepoint:nonsense:sched_switch { }", "missing_probes")
    # Without a module, an event is looked for in every module: like a wildcard.
    assert "ERROR: Probe has no valid attach points." in pass_errors("rawtracepoint:nonsense { }", "missing_probes")
