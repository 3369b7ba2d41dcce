"""bpftrace's warning on the first statement after one that always ends the
probe or the loop iteration (lang/passes/reachability.py)."""

from conftest import run_passes


def warnings(body: str) -> list[str]:
    ctx = run_passes(f"BEGIN {{ {body} }}", "reachability")
    return [f"{d.span.location()}: {d.message}" for d in ctx.diags.warnings]


def test_after_exit_and_return():
    assert warnings("exit(); @a = 1; @b = 2;") == ["stdin:1:17-23: Unreachable statement."]
    assert warnings("return; @a = 1;") == ["stdin:1:17-23: Unreachable statement."]


def test_if_ends_the_probe_only_when_both_branches_do():
    assert warnings("if (1) { exit(); } @a = 1;") == []
    assert warnings("if (1) { exit(); } else { return; } @a = 1;") == ["stdin:1:45-51: Unreachable statement."]


def test_loops_end_the_iteration_not_the_probe():
    assert warnings("$i = 0; while ($i < 3) { $i++; break; @x = 1; } @a = 1;") == [
        "stdin:1:47-53: Unreachable statement."]
    assert warnings("$i = 0; while ($i < 3) { $i++; continue; } @a = 1;") == []


def test_nothing_to_warn():
    assert warnings("@a = 1; exit();") == []
