"""--test and --bench results, in bpftrace's text and JSON formats."""

from pytrace.runtime.output import json as json_format
from pytrace.runtime.output import text as text_format

G, R, E = "\033[32m", "\033[31m", "\033[0m"


def test_text_test_results():
    names, passed = ["one", "two"], [True]
    assert text_format.test_result(names, 0, 2_500, passed, "ignored\n") == (
        f"{G}[==========]{E} Running 2 tests.\n"
        f"{G}[ RUN      ]{E} one\n"
        f"{G}[       OK ]{E} one (1000 μs)\n")
    passed.append(False)
    assert text_format.test_result(names, 1, 20, passed, "line a\n\nline b\n") == (
        f"{G}[ RUN      ]{E} two\n"
        "line a\nline b\n"
        f"{R}[  FAILED  ]{E} two (1 ns)\n"
        f"{G}[==========]{E} 2 tests ran.\n"
        f"{G}[  PASSED  ]{E} 1 test.\n"
        f"{R}[  FAILED  ]{E} 1 test, listed below:\n"
        f"{R}[  FAILED  ]{E} two\n")


def test_text_benchmark_table():
    assert text_format.benchmark_result(["a", "b"], 0, 153, 10000) == (
        "Benchmark                                Time(ns)       Iterations\n"
        "------------------------------------------------------------------\n"
        "a                                        153            10000\n")
    assert text_format.benchmark_result(["a", "b"], 1, 7, 20) == (
        "b                                        7              20\n")


def test_json_results():
    assert json_format.benchmark_result(["a"], 0, 42, 1000) == (
        '{"type": "benchmark_result", "data": {"a": {"average": 42, "iters": 1000}}}\n')
    assert json_format.test_result(["t"], 0, 9, [False], "out\n") == (
        '{"type": "test_result", "data": {"t": {"duration": 9, "passed": false, "output": "out\\n"}}}\n')
