"""Fuzzing in CI: a bounded number of generated and mutated inputs, each of
which must compile or get a diagnostic (programs), read or get one ElfError
(ELF files), or get a one-line error (the command line's files). A traceback,
a hang or an ended process fails the test. `scripts/fuzz.py` runs the same
strategies for longer and reports every class it finds.

The number of examples per test is PYTRACE_FUZZ_EXAMPLES (default 25, a few
seconds in all); the run is derandomised so CI sees the same inputs each time.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing

EXAMPLES = int(os.environ.get("PYTRACE_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def assert_no_finding(finding) -> None:
    assert finding is None, str(finding)


@FUZZ
@given(fuzzing.mutated(fuzzing.own_programs()))
def test_mutated_own_programs_compile_or_get_a_diagnostic(text):
    assert_no_finding(fuzzing.check_program(text, seconds=10))


@FUZZ
@given(fuzzing.generated())
def test_programs_from_the_grammar_compile_or_get_a_diagnostic(text):
    assert_no_finding(fuzzing.check_program(text, seconds=10))


@FUZZ
@given(fuzzing.mutated_elf())
def test_mutated_elf_files_read_or_give_one_error(data):
    assert_no_finding(fuzzing.check_elf(data))


def test_the_corpus_has_programs():
    assert len(fuzzing.own_programs()) > 100


def test_a_finding_is_reported_with_its_class():
    def broken(_arg):
        {}["key"]

    finding = fuzzing.check(broken, None, (ValueError,), 1)
    assert finding.kind == "traceback" and finding.where.startswith("KeyError")


def test_a_hang_is_a_finding():
    def spin(_arg):
        while True:
            pass

    finding = fuzzing.check(spin, None, (ValueError,), 0.2)
    assert finding.kind == "hang"


# ------------------------------------------------------------------ the CLI's files

SCRIPT_BYTES = st.one_of(
    fuzzing.mutated(fuzzing.own_programs()).map(lambda t: t.encode("utf-8", "surrogateescape")),
    fuzzing.mutated(fuzzing.own_programs()).map(lambda t: t.encode("utf-16")),
    fuzzing.mutated(fuzzing.own_programs()).map(lambda t: t.encode("latin-1", "replace") + b"// \xe9\xff\n"),
    st.binary(max_size=300),
)


@FUZZ
@given(SCRIPT_BYTES)
def test_script_files_of_any_bytes_get_a_diagnostic(tmp_path_factory, monkeypatch, capsys, data):
    path = tmp_path_factory.mktemp("script") / "prog.bt"
    path.write_bytes(data)
    assert_no_finding(fuzzing.check(lambda p: _cli(monkeypatch, "-d", "types", p), str(path), (), 10))
    capsys.readouterr()


@pytest.mark.parametrize("kind", ["missing", "directory", "dev-null", "dangling-link", "loop-link", "dev-zero"])
def test_script_paths_of_every_kind_get_a_one_line_error(tmp_path, monkeypatch, capsys, kind):
    path = tmp_path / "prog.bt"
    if kind == "directory":
        path.mkdir()
    elif kind == "dev-null":
        path = "/dev/null"
    elif kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "dangling-link":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "loop-link":
        path.symlink_to(path)
    status = {}
    assert_no_finding(fuzzing.check(lambda p: status.setdefault("rc", _cli(monkeypatch, p)), str(path), (), 10))
    captured = capsys.readouterr()
    said = captured.out + captured.err  # an empty script: bpftrace's "No probes to attach" (stdout)
    assert status["rc"] == 1
    assert "Traceback" not in said and len(said.strip().splitlines()) == 1, said


def _cli(monkeypatch, *argv: str) -> int:
    """The command line in this process, compiling for the fixture kernel."""
    from conftest import FIXTURE_KERNEL
    from pytrace.lang import kernel_view
    from pytrace.runtime import cli

    monkeypatch.setattr(kernel_view, "_HOST", FIXTURE_KERNEL)
    monkeypatch.setenv("PYTRACE_NO_CACHE", "1")
    return cli.main(list(argv))
