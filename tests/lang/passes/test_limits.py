"""The limits pass, and the compiler's robustness on inputs past them (issue 12's
fuzz classes): each gets one diagnostic naming its limit, never a traceback."""

import time

from conftest import fixture_options, pass_errors, run_passes

from pytrace.lang.passes.limits import MAX_IDENTIFIER, MAX_NESTING, MAX_STRING_LITERAL


def test_nested_ifs_past_the_limit():
    n = MAX_NESTING
    text = "BEGIN { $x = 1; " + "if ($x) { " * n + "$x = 2;" + " }" * n + " }"
    assert f"nested too deeply (the limit is {MAX_NESTING} levels" in pass_errors(text, "limits")


def test_long_and_chain_past_the_limit():
    text = "BEGIN { $x = 1; if (" + " && ".join(["$x"] * (MAX_NESTING + 20)) + ") { } }"
    assert "nested too deeply" in pass_errors(text, "limits")


def test_deep_but_allowed_program_type_checks():
    text = "BEGIN { $x = 1; if (" + " && ".join(["$x"] * 250) + ") { print(1); } }"
    run_passes(text, "typecheck")


def test_string_literal_too_long():
    text = 'BEGIN { printf("' + "a" * (MAX_STRING_LITERAL + 1) + '"); }'
    assert f"string literal too long (the limit is {MAX_STRING_LITERAL} bytes)" in pass_errors(text, "limits")


def test_name_too_long():
    text = "BEGIN { $" + "v" * (MAX_IDENTIFIER + 1) + " = 1; }"
    assert "name too long" in pass_errors(text, "limits")


def test_nested_unroll_product():
    text = "BEGIN { unroll(100) { unroll(100) { print(1); } } }"
    assert "nested unroll()s copy their body 10000 times" in pass_errors(text, "limits")


def test_nested_tuples_type_check_in_linear_time():
    text = "BEGIN { $x = " + "(1," * 40 + "1" + ")" * 40 + "; }"
    start = time.monotonic()
    run_passes(text, "typecheck")
    assert time.monotonic() - start < 5


def test_backend_abort_becomes_a_diagnostic_at_the_probe():
    from pytrace.codegen.compile import generate
    from pytrace.lang.diagnostics import CompileError
    from pytrace.lang.passes import analyse
    from pytrace.lang.source import Source

    # 70 variables a loop's callback uses live on the stack, and so do their 70 pointers in its context.
    # (Big keys no longer do: copies over 512 bytes are one helper call, in the scratch map.)
    decl = " ".join(f"$a{i} = nsecs;" for i in range(70))
    text = f"BEGIN {{ {decl} for ($i : 0..2) {{ @s = {' + '.join(f'$a{i}' for i in range(70))}; }} }}"
    ctx = analyse(Source("stdin", text), fixture_options())
    try:
        generate(ctx)
    except CompileError as e:
        rendered = e.diagnostics.render()
    else:
        raise AssertionError("expected the backend to refuse this program")
    assert "stdin:1:1-6: ERROR: the BPF backend cannot compile this probe: " in rendered
    assert "stack limit" in rendered


def test_delete_with_a_packed_tuple_key_type_checks():
    run_passes("BEGIN { @[0, 0] = 1; $t = (0, 0); delete(@, $t); }", "typecheck")
    assert "Argument mismatch for @m" in pass_errors("BEGIN { @m[1] = 1; delete(@m, \"x\"); }", "typecheck")


def test_cgroupid_with_a_nul_byte():
    assert "cannot contain a NUL byte" in pass_errors('BEGIN { print(cgroupid("a\\0b")); }', "typecheck")
