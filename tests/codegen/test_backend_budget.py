"""The BPF backend runs in a child with a time budget (codegen/emit.py)."""
import signal

from pytrace.codegen import emit


def test_a_child_stopped_by_its_time_budget_is_a_backend_error_naming_the_limit():
    status = signal.SIGALRM  # wait status of a child ended by SIGALRM
    error = emit._backend_error("", status)
    assert str(error).startswith(f"it did not finish within the limit of {emit.BACKEND_SECONDS} s")


def test_a_child_that_printed_an_llvm_error_reports_that_error():
    error = emit._backend_error("LLVM ERROR: too big\n", 1 << 8)
    assert "too big" in str(error)
