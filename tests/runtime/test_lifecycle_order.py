"""lifecycle.Session refuses steps out of order, before touching the kernel."""

import pytest

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source
from pytrace.runtime.lifecycle import LifecycleError, Session


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
