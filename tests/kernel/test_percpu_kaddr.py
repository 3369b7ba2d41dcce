"""percpu_kaddr() needs the per-CPU variable's address from /proc/kallsyms,
which lists data symbols only with CONFIG_KALLSYMS_ALL: Debian's kernel in the
VM tier has it, this host's kernel may not."""

import os

import pytest

from conftest import run_pytrace

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("PYTRACE_VM_TIER") == "1"


def _has_data_symbols() -> bool:
    try:
        with open("/proc/kallsyms") as f:
            return any(line.rstrip().endswith(" runqueues") for line in f)
    except OSError:
        return False


needs_data_symbols = pytest.mark.skipif(
    not IN_VM and not _has_data_symbols(),
    reason="kallsyms has no data symbols here (no CONFIG_KALLSYMS_ALL); run scripts/vm-tests.sh")


@needs_data_symbols
def test_each_cpus_runqueue_knows_its_cpu():
    # bpf_per_cpu_ptr() may return NULL: the verifier wants the check before the field's address
    r = run_pytrace("-e", 'begin { $a = (struct rq *)percpu_kaddr("runqueues", 0); '
                          '$b = (struct rq *)percpu_kaddr("runqueues", 1); '
                          'if ($a != 0 && $b != 0) { printf("%d %d\\n", $a.cpu, $b.cpu); } }', timeout=300)
    assert (r.rc, r.out) == (0, "0 1\n\n\n"), r


@needs_data_symbols
def test_without_a_cpu_it_is_this_cpus_copy():
    r = run_pytrace("-e", 'begin { $rq = (struct rq *)percpu_kaddr("runqueues"); printf("%d\\n", $rq.cpu == cpu); }',
                    timeout=300)
    assert (r.rc, r.out) == (0, "1\n\n\n"), r


@needs_data_symbols
def test_an_unknown_variable_is_a_diagnostic():
    r = run_pytrace("-e", 'begin { print(*percpu_kaddr("no_such_percpu_var", 0)); }', timeout=300)
    assert r.rc == 1 and "no_such_percpu_var" in r.err and "Traceback" not in r.err, r
