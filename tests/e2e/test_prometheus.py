"""The Prometheus exporter end to end: a real Prometheus server (Debian's,
installed by scripts/setup.sh) scrapes `pytrace --prometheus` every second
while a known workload runs; the test asks Prometheus's HTTP API for the
values."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT

pytestmark = pytest.mark.kernel

CALLS = 100
PROGRAM = """config = { prometheus_labels = "comm" }
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[comm] = count(); @n++; @sizes = hist(@n); }"""

# Waits for a line on stdin, makes CALLS getppid calls, says so, then waits to be ended.
WORKLOAD = f"""import os, sys
sys.stdin.readline()
for _ in range({CALLS}):
    os.getppid()
print("done", flush=True)
sys.stdin.readline()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(stream, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never came; got {seen!r}")


def query(prom_port: int, promql: str) -> list:
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def query_until(prom_port: int, promql: str, expected: str, timeout: float = 40) -> list:
    """Ask until Prometheus has scraped the expected value (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    result: list = []
    while time.monotonic() < deadline:
        try:
            result = query(prom_port, promql)
        except OSError:  # Prometheus still starting
            result = []
        if result and result[0]["value"][1] == expected:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{promql}: expected {expected}, Prometheus says {result}")


@pytest.fixture
def prometheus_server(tmp_path):
    """A Prometheus on 127.0.0.1 scraping a target port every second: yields (its port, the target port)."""
    binary = shutil.which("prometheus")
    assert binary, "the prometheus server is missing: run scripts/setup.sh (Debian package prometheus)"
    target, port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                      "scrape_configs:\n  - job_name: pytrace\n    static_configs:\n"
                      f"      - targets: ['127.0.0.1:{target}']\n")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"))
    try:
        yield port, target
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_prometheus_scrapes_counter_and_histogram(prometheus_server):
    prom_port, target = prometheus_server
    work = subprocess.Popen([sys.executable, "-c", WORKLOAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    tracer = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "pytrace"), "--prometheus", f"127.0.0.1:{target}",
                               "-e", PROGRAM, str(work.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTRACE_NO_CACHE="1"))
    try:
        started = wait_for_line(tracer.stderr, "Attached 1 probe")
        assert f"Serving Prometheus metrics at http://127.0.0.1:{target}/metrics" in started
        comm = open(f"/proc/{work.pid}/comm").read().strip()
        work.stdin.write("go\n")
        work.stdin.flush()
        assert work.stdout.readline() == "done\n"

        calls = query_until(prom_port, f'pytrace_calls_total{{comm="{comm}"}}', str(CALLS))
        assert calls[0]["metric"] == {"__name__": "pytrace_calls_total", "comm": comm,
                                      "instance": f"127.0.0.1:{target}", "job": "pytrace"}
        # hist(@n) of 1..100: the bucket [4, 8) is le="7", cumulative: the values 1..7.
        query_until(prom_port, 'pytrace_sizes_bucket{le="7"}', "7")
        query_until(prom_port, 'pytrace_sizes_bucket{le="63"}', "63")
        query_until(prom_port, 'pytrace_sizes_bucket{le="+Inf"}', str(CALLS))
        query_until(prom_port, "pytrace_n", str(CALLS))
        # The README's query: calls per second by process name (rate() needs two scrapes).
        deadline = time.monotonic() + 20
        while not (rates := query(prom_port, "sum by (comm) (rate(pytrace_calls_total[1m]))")):
            assert time.monotonic() < deadline, "rate() never had two scrapes"
            time.sleep(0.5)
        assert rates[0]["metric"] == {"comm": comm}  # 0 by now: the calls came before both scrapes

        tracer.send_signal(signal.SIGINT)  # END and the usual map output still happen
        out, err = tracer.communicate(timeout=30)
        assert tracer.returncode == 0, err
        assert f"@calls[{comm}]: {CALLS}\n" in out and f"@n: {CALLS}\n" in out
    finally:
        for proc in (tracer, work):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_bad_address_and_busy_port_are_errors():
    pytrace = os.path.join(ROOT, ".venv", "bin", "pytrace")
    r = subprocess.run([pytrace, "--prometheus", "localhost:http", "-e", "BEGIN { exit(); }"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == "ERROR: invalid --prometheus address 'localhost:http': expected [HOST:]PORT\n"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([pytrace, "--prometheus", f"127.0.0.1:{port}", "-e", "BEGIN { exit(); }"],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == f"ERROR: cannot serve Prometheus metrics on 127.0.0.1:{port}: Address already in use\n"
