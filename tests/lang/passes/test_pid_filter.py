"""The pid_filter pass: with -p PID, kernel probes get `pid == PID` in front
of their predicate; probes that filter when they attach do not."""

from conftest import run_passes
from pytrace.lang import ast

PROGRAM = 't:syscalls:sys_enter_getppid /comm == "x"/ { } k:vfs_read { } BEGIN { }'


def test_kernel_probes_get_a_pid_predicate():
    ctx = run_passes(PROGRAM, "pid_filter", pid_filter=42)
    tp, kp, begin = (p.predicate for p in ctx.program.probes)
    assert isinstance(tp, ast.Binop) and tp.op == "&&"
    assert (tp.left.op, tp.left.left.name, tp.left.right.value) == ("==", "pid", 42)
    assert (tp.right.op, tp.right.right.value) == ("==", "x")
    assert (kp.op, kp.left.name, kp.right.value) == ("==", "pid", 42)
    assert begin is None


def test_nothing_without_a_pid():
    ctx = run_passes(PROGRAM, "pid_filter")
    assert [p.predicate is None for p in ctx.program.probes] == [False, True, True]
