"""The config pass: the script's `config = { ... }` block and `let @m = kind(N);`."""

from conftest import pass_errors, run_passes


def test_config_sets_options():
    ctx = run_passes("config = { max_strlen = 16; BPFTRACE_MAX_MAP_KEYS = 7 } BEGIN { }", "config")
    assert (ctx.options.max_strlen, ctx.options.max_map_keys) == (16, 7)


def test_renamed_key():
    assert pass_errors("config = { strlen = 16 } BEGIN { }", "config") == (
        "stdin:1:12-23: ERROR: strlen: key has been renamed to 'max_strlen'\n"
        "config = { strlen = 16 } BEGIN { }\n"
        "           ~~~~~~~~~~~\n")


def test_unknown_key():
    assert pass_errors("config = { nosuch = 1 } BEGIN { }", "config") == (
        "stdin:1:12-22: ERROR: nosuch: not a known configuration option\n"
        "config = { nosuch = 1 } BEGIN { }\n"
        "           ~~~~~~~~~~\n")


def test_map_declarations():
    ctx = run_passes("let @a = lruhash(5); BEGIN { }", "config")
    assert {n: (d.kind, d.max_entries) for n, d in ctx.map_decls.items()} == {"@a": ("lruhash", 5)}


def test_invalid_map_type():
    assert pass_errors("let @a = nosuch(5); BEGIN { }", "config") == (
        "stdin:1:1-20: ERROR: Invalid bpf map type: nosuch\n"
        "let @a = nosuch(5); BEGIN { }\n"
        "~~~~~~~~~~~~~~~~~~~\n"
        "HINT: Valid map types: hash, lruhash, percpuhash, percpulruhash\n")
