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


def test_print_maps_on_exit_and_stack_mode():
    ctx = run_passes("config = { print_maps_on_exit = 0; stack_mode = raw } BEGIN { }", "config")
    assert (ctx.options.print_maps_on_exit, ctx.options.stack_mode) == (False, "raw")
    ctx = run_passes('config = { print_maps_on_exit = "true"; BPFTRACE_STACK_MODE = perf } BEGIN { }', "config")
    assert (ctx.options.print_maps_on_exit, ctx.options.stack_mode) == (True, "perf")


def test_bad_bool_and_stack_mode_values():
    assert pass_errors("config = { print_maps_on_exit = maybe } BEGIN { }", "config") == (
        "stdin:1:33-38: ERROR: print_maps_on_exit: Invalid bool value: valid values are true, false, 1 or 0.\n"
        "config = { print_maps_on_exit = maybe } BEGIN { }\n"
        "                                ~~~~~\n")
    assert pass_errors("config = { stack_mode = fancy } BEGIN { }", "config").startswith(
        "stdin:1:25-30: ERROR: stack_mode: Invalid value for stack_mode: valid values are bpftrace, raw, perf, "
        "and build_id.\n")


def test_environment_only_key():
    assert pass_errors("config = { btf = 1 } BEGIN { }", "config").startswith(
        "stdin:1:12-19: ERROR: btf: can only be set as an environment variable\n")


def test_every_key_of_current_bpftrace_is_known():
    words = {"license": '"GPL"', "stack_mode": "raw", "missing_probes": "warn"}
    for key in ("cache_user_symbols", "cpp_demangle", "lazy_symbolication", "license", "log_size",
                "max_bpf_progs", "max_cat_bytes", "max_map_keys", "max_probes", "max_strlen", "on_stack_limit",
                "perf_rb_pages", "stack_mode", "str_trunc_trailer", "missing_probes", "print_maps_on_exit",
                "use_blazesym", "show_debug_info", "unstable_import_statement", "unstable_tseries",
                "unstable_typeinfo", "unstable_dw_ustack"):
        run_passes(f"config = {{ {key} = {words.get(key, '1')} }} BEGIN {{ }}", "config")


def test_show_debug_info_and_cache_user_symbols():
    ctx = run_passes("config = { show_debug_info = 0; cache_user_symbols = PER_PROGRAM } BEGIN { }", "config")
    assert (ctx.options.show_debug_info, ctx.options.cache_user_symbols) == (False, "per_program")
    ctx = run_passes('config = { cache_user_symbols = "none" } BEGIN { }', "config")
    assert (ctx.options.show_debug_info, ctx.options.cache_user_symbols) == (True, "none")
    assert run_passes("config = { cache_user_symbols = 0 } BEGIN { }", "config").options.cache_user_symbols == "none"
    assert run_passes("config = { cache_user_symbols = 1 } BEGIN { }", "config").options.cache_user_symbols == ""
    assert pass_errors("config = { cache_user_symbols = sometimes } BEGIN { }", "config").startswith(
        "stdin:1:33-42: ERROR: cache_user_symbols: Invalid value for cache_user_symbols: valid values are "
        "PER_PID, PER_PROGRAM, and NONE.\n")
