"""Every builtin is complete: a table entry in lang/builtins.py, a lowering in
codegen/calls.py (or a provider that offers it), and, when its values print
specially, a printer the runtime knows. Pure: no root, no kernel."""

import pytest

from pytrace.codegen import calls
from pytrace.lang import aggregations, builtins
from pytrace.lang.probes import PROVIDERS
from pytrace.runtime import symbols, user_values

# Layout kinds the runtime decodes generically (runtime/maps.decode).
PLAIN_KINDS = {"int", "bool", "string", "pointer", "tuple", "record", "array", "none"}
RUNTIME_PRINTERS = set(symbols.DECODERS) | set(user_values.DECODERS)


@pytest.mark.parametrize("name", sorted(builtins.VARIABLES))
def test_variable_has_a_lowering(name):
    var = builtins.VARIABLES[name]
    if var.probes == builtins.PROVIDER_VARIABLE:
        offering = [p.name for p in PROVIDERS if name in p.variable_names]
        assert offering, f"no provider offers {name}"
    else:
        assert name in calls.VARIABLES, f"builtin variable {name} has no lowering in codegen/calls.py"


@pytest.mark.parametrize("name", sorted(builtins.FUNCTIONS))
def test_function_has_a_lowering(name):
    fn = builtins.FUNCTIONS[name]
    if fn.aggregation:
        assert name in aggregations.AGGREGATIONS and name in calls.AGGREGATIONS
    else:
        assert name in calls.FUNCTIONS, f"builtin function {name} has no lowering in codegen/calls.py"


def test_no_lowering_without_a_table_entry():
    assert set(calls.VARIABLES) <= set(builtins.VARIABLES)
    assert set(calls.FUNCTIONS) <= set(builtins.FUNCTIONS)


@pytest.mark.parametrize("entry", [*builtins.VARIABLES.values(), *builtins.FUNCTIONS.values()],
                         ids=lambda e: e.name)
def test_declared_printer_exists(entry):
    if entry.printer:
        assert entry.printer in RUNTIME_PRINTERS, f"{entry.name}: no runtime printer {entry.printer!r}"


@pytest.mark.parametrize("name", sorted(builtins.VARIABLES))
def test_special_variable_declares_its_printer(name):
    var = builtins.VARIABLES[name]
    kind = var.type.layout()["kind"]
    if kind not in PLAIN_KINDS:
        assert var.printer == kind, f"{name} prints as {kind!r} but declares printer {var.printer!r}"


def test_every_runtime_printer_belongs_to_a_builtin():
    declared = {e.printer for e in [*builtins.VARIABLES.values(), *builtins.FUNCTIONS.values()]}
    assert RUNTIME_PRINTERS <= declared
