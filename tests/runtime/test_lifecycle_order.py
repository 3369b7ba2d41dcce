"""lifecycle.Session refuses steps out of order, before touching the kernel."""

import pytest

from types import SimpleNamespace

from conftest import fixture_options
from pytrace.codegen.artifact import ProgramSpec
from pytrace.codegen.compile import generate
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from pytrace.runtime.lifecycle import LifecycleError, Session
from pytrace.runtime.session import attach_order


class Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None


def session() -> Session:
    ctx = analyse(Source("stdin", 'BEGIN { @x = 1; } tracepoint:syscalls:sys_enter_getppid { @n = count(); }'), fixture_options())
    return Session(generate(ctx), Quiet())


@pytest.mark.parametrize("step", ["begin", "attach", "poll", "run", "stop", "print_maps"])
def test_every_step_but_load_is_refused_before_load(step):
    s = session()
    args = {"run": (None,)}.get(step, ())
    with pytest.raises(LifecycleError, match=f"{step}\\(\\) cannot be called when the session is new"):
        getattr(s, step)(*args)
    with pytest.raises(LifecycleError):
        s.read_map("@x")
    assert s.state == "new"


def test_close_is_allowed_in_any_state_and_final():
    s = session()
    s.close()
    s.close()
    assert s.state == "closed"
    with pytest.raises(LifecycleError):
        s.load()


def test_attach_order_puts_newest_first_probes_last_and_reversed():
    """As bpftrace's two passes: in order the probes the kernel runs in attach
    order, then in reverse those it runs newest first, so that on one event
    both kinds run in the order of the script."""
    def loaded(name, newest_first, points):
        spec = ProgramSpec(name, name, "p", "kprobe", b"", [{"at": p} for p in points],
                           fires_newest_first=newest_first)
        return SimpleNamespace(spec=spec, fd=-1)

    programs = [loaded("u1", True, ["a", "b"]), loaded("t1", False, ["c"]), loaded("u2", True, ["d"]),
                loaded("t2", False, ["e", "f"])]
    order = [(prog.spec.name, spec["at"]) for prog, spec in attach_order(programs)]
    assert order == [("t1", "c"), ("t2", "e"), ("t2", "f"), ("u2", "d"), ("u1", "b"), ("u1", "a")]


def test_providers_declare_which_fire_newest_first():
    """bpftrace's attach_reverse(): kprobe, uprobe, uretprobe, usdt, fentry, fexit (not kretprobe)."""
    from pytrace.lang import probes

    newest_first = {name for name in ("kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "fentry", "fexit",
                                      "tracepoint", "rawtracepoint", "interval", "profile", "software",
                                      "hardware", "watchpoint")
                    if probes.lookup(name).fires_newest_first}
    assert newest_first == {"kprobe", "uprobe", "uretprobe", "usdt", "fentry", "fexit"}
