"""The cache of compiled programs and parsed command lines (runtime/cache.py)."""

from __future__ import annotations

import os

import pytest

from pytrace.codegen.artifact import Artifact, EventSpec, MapSpec, ProgramSpec
from pytrace.lang.options import Options
from pytrace.lang.source import Source
from pytrace.runtime import cache, cli


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", str(tmp_path / "pytrace"))
    monkeypatch.delenv("PYTRACE_NO_CACHE", raising=False)
    return tmp_path / "pytrace"


def _artifact() -> Artifact:
    return Artifact(programs=[ProgramSpec("p", "tracepoint:a:b", "tracepoint", "tracepoint", b"\x18\0" * 8,
                                          [{"category": "a", "event": "b"}], span=[0, 15])],
                    maps=[MapSpec(0, "@", "percpu_hash", 16, 8, 4096, "count", key_layout={"fields": [1, 2]})],
                    events=[EventSpec(0, "printf", "%d\n", [{"kind": "int", "size": 8}], [0])], ringbuf_map=1)


def test_an_artifact_comes_back_from_the_cache_as_it_went_in_with_its_warnings(cache_dir, capsys):
    art = _artifact()
    cache.store_artifact("k1", art, "WARNING: something\n")
    assert cache.load_artifact("k1", warnings=True) == art
    assert capsys.readouterr().err == "WARNING: something\n"
    assert cache.load_artifact("k1", warnings=False) == art
    assert capsys.readouterr().err == ""


def test_an_artifact_compiled_again_without_warnings_loses_the_old_ones(cache_dir, capsys):
    cache.store_artifact("k1", _artifact(), "WARNING: old\n")
    cache.store_artifact("k1", _artifact(), "")
    cache.load_artifact("k1", warnings=True)
    assert capsys.readouterr().err == ""


def test_a_missing_or_damaged_cache_entry_is_a_miss(cache_dir):
    assert cache.load_artifact("nothing", warnings=True) is None
    cache.store_artifact("k1", _artifact(), "")
    (cache_dir / "k1.artifact").write_bytes(b"\xffnot marshal")
    assert cache.load_artifact("k1", warnings=True) is None
    import marshal

    (cache_dir / "k1.artifact").write_bytes(marshal.dumps({"version": 0}))
    assert cache.load_artifact("k1", warnings=True) is None


def test_the_key_changes_with_the_source_and_the_options():
    source = Source("stdin", "BEGIN { }")
    key = cache.key(source, Options())
    assert key == cache.key(Source("stdin", "BEGIN { }"), Options())
    assert key != cache.key(Source("stdin", "BEGIN { exit(); }"), Options())
    assert key != cache.key(source, Options(params=["1"]))
    assert key != cache.key(source, Options(has_child=True))


def test_the_code_stamp_is_the_latest_source_change_below_the_compiler_directories(tmp_path, monkeypatch):
    for name in ("lang/probes/x.py", "lang/__pycache__/y.py", "codegen/a.py", "grammar/g.lark", "lang/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    os.utime(tmp_path / "lang/probes/x.py", (0, 3000))
    os.utime(tmp_path / "codegen/a.py", (0, 1000))
    os.utime(tmp_path / "grammar/g.lark", (0, 2000))
    os.utime(tmp_path / "lang/__pycache__/y.py", (0, 9000))  # compiled files' directory: not a source
    os.utime(tmp_path / "lang/notes.txt", (0, 8000))
    monkeypatch.setattr(cache, "_ROOT", str(tmp_path))
    assert cache._code_stamp() == "3000.0"


ARGV = ["-e", "BEGIN { exit(); }", "-p", "1_0", "-q"]


def test_a_command_line_is_recalled_parsed_and_checked(cache_dir):
    assert cache.recall_args(ARGV) is None
    run = cli.Run(cli._parse_and_check(list(ARGV)), remember=ARGV)
    cache.remember_args(ARGV, run.parsed)
    recalled = cache.recall_args(list(ARGV))
    assert recalled == run.parsed and recalled["pid"] == 10 and recalled["program"] == "BEGIN { exit(); }"
    assert cache.recall_args(ARGV[:-1]) is None  # another command line


def test_options_after_the_program_file_are_recalled_as_parsed(cache_dir, tmp_path):
    argv = [str(tmp_path / "tool.bt"), "arg1", "-c", "/bin/true", "--", "--opt=1", "x"]
    parsed = cli._parse_and_check(list(argv))
    cache.remember_args(argv, cli.Run(parsed, remember=argv).parsed)
    again = cli.Args(cache.recall_args(argv))
    assert vars(again) == vars(parsed)
    assert again.rest == [str(tmp_path / "tool.bt"), "arg1", "x"] and again.named == ["opt=1"]


def test_a_damaged_command_line_record_is_a_miss(cache_dir):
    cache.remember_args(ARGV, {"program": "x"})
    (path,) = cache_dir.glob("argv-*.args")
    path.write_bytes(b"garbage")
    assert cache.recall_args(ARGV) is None
