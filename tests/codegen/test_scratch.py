"""The scratch map: what lives there (config on_stack_limit), entries of at most 32 KiB,
and the exit flag map of programs that call exit()."""

from conftest import fixture_options
from pytrace.codegen.compile import generate
from pytrace.lang.passes import analyse
from pytrace.lang.source import Source


def internal_maps(program: str, **options) -> dict:
    artifact = generate(analyse(Source("stdin", program), fixture_options(**options)))
    return {m.name: (m.map_type, m.value_size, m.max_entries) for m in artifact.maps if m.name.startswith("__")}


def test_on_stack_limit_moves_small_values_to_the_scratch_map():
    program = 'BEGIN { $t = (1, "abc"); print($t); }'
    assert "__scratch" not in internal_maps(program, max_strlen=8)
    assert "__scratch" in internal_maps("config = { on_stack_limit = 0 } " + program, max_strlen=8)
    assert "__scratch" in internal_maps(program, max_strlen=8, on_stack_limit=4)


def test_scratch_entries_hold_at_most_32_kib():
    program = ("tracepoint:syscalls:sys_enter_openat { $a = str(args.filename); $b = $a; $c = $a; "
               "print(($a, $b, $c)); }")
    _, value_size, entries = internal_maps(program, max_strlen=9999)["__scratch"]
    assert value_size <= 32768 and entries >= 2
