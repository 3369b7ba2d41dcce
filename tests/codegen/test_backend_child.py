"""The BPF backend's child (codegen/emit.py): started early by start_backend() or forked
when a module is compiled, it compiles the same."""
import os

import pytest

from pytrace.codegen import emit

IR = """target triple = "bpfel"

define i64 @p0_x(ptr %ctx) section "prog/p0_x" {
  ret i64 0
}
"""


def test_a_started_child_compiles_as_one_forked_then():
    emit.start_backend()
    early = emit.compile_ir(IR)
    assert emit._started is None  # used once
    assert emit.compile_ir(IR) == early and set(early) == {"p0_x"}


def test_a_started_child_sends_the_debug_texts_too():
    emit.start_backend()
    debug: dict = {}
    emit.compile_ir(IR, debug)
    assert "p0_x" in debug["ir"] and "exit" in debug["asm"]


def test_starting_twice_keeps_one_child_and_stopping_reaps_it():
    emit.start_backend()
    child = emit._started
    emit.start_backend()
    assert emit._started is child
    emit.stop_backend()
    assert emit._started is None
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # already reaped


def test_a_module_llvm_refuses_is_a_backend_error_from_a_started_child():
    emit.start_backend()
    with pytest.raises(emit.BackendError):
        emit.compile_ir("this is not IR")


def test_a_started_child_keeps_none_of_this_process_pipes_open():
    """A -c command waits for EOF on a pipe this process holds: the child must not hold it too."""
    read_fd, write_fd = os.pipe()
    emit.start_backend()
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b""  # EOF now: the child has no copy of write_fd
    finally:
        os.close(read_fd)
        emit.stop_backend()
