"""runtime/proctitle.py: the command line as the kernel keeps it (pure parts; the rewrite of a
running pytrace is checked end to end in tests/e2e/test_run_modes.py)."""

from pytrace.runtime import proctitle


def test_title_is_each_argument_nul_terminated():
    assert proctitle.title_for(["/x/bpftrace", "-e", "begin { }"]) == b"/x/bpftrace\0-e\0begin { }\0"


def test_arg_area_read_after_a_name_with_spaces_and_parentheses():
    fields = [str(n) for n in range(3, 53)]  # fields 3..52 hold their own numbers
    fields[48 - 3], fields[49 - 3] = "140000", "140100"
    stat = "1234 (a) b (c) " + " ".join(fields)
    assert proctitle.arg_area(stat) == (140000, 140100)


def test_not_retitled_when_run_as_a_module(monkeypatch):
    monkeypatch.setattr("sys.argv", ["/x/pytrace/__main__.py", "-e", "begin { }"])
    calls = []
    monkeypatch.setattr(proctitle, "set_title", calls.append)
    assert proctitle.set_from_command_line() is False
    assert calls == []
