"""The Python API's exporters on live maps: probes.serve_prometheus() and
probes.dataframe() after a known number of getppid calls."""

import os
import urllib.request

import pandas
import pytest
from pandas.testing import assert_frame_equal

import pytrace

pytestmark = pytest.mark.kernel

ME = os.getpid()
PROGRAM = f"""config = {{ prometheus_labels = "comm" }}
tracepoint:syscalls:sys_enter_getppid /pid == {ME}/ {{ @calls[comm] = count(); @n++; @h = hist(@n); @s = stats(@n); }}"""


def my_comm() -> str:
    with open("/proc/self/comm") as f:
        return f.read().strip()


def test_serve_prometheus_and_dataframes():
    with pytrace.attach(PROGRAM) as probes:
        for _ in range(10):
            os.getppid()
        server = probes.serve_prometheus(0, "127.0.0.1")
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as r:
            scrape = r.read().decode()
        lines = [line for line in scrape.splitlines() if line.startswith("pytrace_")]
        assert f'pytrace_calls_total{{comm="{my_comm()}"}} 10.0' in lines
        assert 'pytrace_h_bucket{le="7"} 7.0' in lines and 'pytrace_h_bucket{le="+Inf"} 10.0' in lines
        assert "pytrace_s_count 10.0" in lines and "pytrace_s_sum 55.0" in lines and "pytrace_n 10.0" in lines

        assert_frame_equal(probes.dataframe("@calls"), pandas.DataFrame({"comm": [my_comm()], "value": [10]}))
        assert_frame_equal(probes.dataframe("@s"), pandas.DataFrame({"count": [10], "avg": [5], "total": [55]}))
        assert_frame_equal(probes.dataframe("@h"), pandas.DataFrame({
            "low": pandas.array([1, 2, 4, 8], dtype="Int64"), "high": pandas.array([2, 4, 8, 16], dtype="Int64"),
            "count": [1, 2, 4, 3]}))
        assert_frame_equal(pytrace.to_dataframe(probes.maps()["@calls"], ["comm"]),
                           probes.dataframe("@calls"))
    with pytest.raises(OSError):  # close() stopped the server
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
