"""The program's settings as the script reads them.

* `getopt("name"[, default[, description]])`: program options given after
  `--` on the command line (`--name=value`, or `--name` for true). The
  default's literal decides the option's type, as in bpftrace: none or a
  boolean -> bool, a non-negative integer -> uint64, a negative one ->
  int64, a string -> string. Options given but never read by getopt(), and
  values of the wrong kind, are errors (bpftrace's words); `--help` lists
  the options. The values are known when compiling (the artifact cache key
  holds them), so each getopt() becomes a constant.
* `config().NAME` (also `config.NAME`, `__builtin_config.NAME`): the value
  of a setting, replaced by a literal.
"""

from __future__ import annotations

from pytrace.lang.records import record

from pytrace.lang import ast
from pytrace.lang.context import CompileContext
from pytrace.lang.options import Options

CONFIG_NAMES = ("config", "__builtin_config")
TRUTHY = ("1", "true", "on", "yes")
FALSY = ("0", "false", "off", "no")


@record
class ProgramOption:
    name: str
    kind: str  # "bool", "unsigned", "signed" or "string"
    default: bool | int | str
    description: str = ""
    value: bool | int | str = False  # the value in this run: the command line's, else the default


def config_values(options: Options) -> dict[str, bool | int | str]:
    """What config() reads: bpftrace's settings, with the values this program runs
    with (bpftrace's defaults for the settings pytrace does not act on)."""
    return {
        "cpp_demangle": True, "lazy_symbolication": True,
        "print_maps_on_exit": getattr(options, "print_maps_on_exit", True),  # (options other work may add)
        "use_blazesym": False, "show_debug_info": False,
        "log_size": options.log_size, "max_bpf_progs": 1024, "max_cat_bytes": options.max_cat_bytes,
        "max_map_keys": options.max_map_keys, "max_probes": 1024, "max_strlen": options.max_strlen,
        "on_stack_limit": options.on_stack_limit, "perf_rb_pages": options.perf_rb_pages,
        "str_trunc_trailer": "..",
        "unstable_import_statement": "error", "unstable_tseries": options.unstable_tseries,
        "unstable_typeinfo": "error", "unstable_dw_ustack": "warn",
        "missing_probes": options.missing_probes, "stack_mode": getattr(options, "stack_mode", "bpftrace"),
        "license": "GPL",
    }


def _literal(value: bool | int | str, span) -> ast.Expr:
    if isinstance(value, bool):
        return ast.Boolean(value, span=span)
    if isinstance(value, int):
        return ast.Integer(value, str(value), span=span)
    return ast.String(value, span=span)


def _shown(value: bool | int | str) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class _Settings:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.config = config_values(ctx.options)

    def error(self, msg: str, node: ast.Node) -> None:
        self.ctx.diags.error(msg, node.span)

    def visit(self, node: ast.Node) -> None:
        for child in list(node.children()):
            if isinstance(child, ast.FieldAccess) and self.is_config(child.operand):
                node.replace_child(child, self.config_field(child))
                continue
            if isinstance(child, ast.Call) and child.name == "getopt":
                self.getopt(child)
            self.visit(child)

    @staticmethod
    def is_config(node: ast.Node) -> bool:
        return (isinstance(node, ast.Identifier) and node.name in CONFIG_NAMES
                or isinstance(node, ast.Call) and node.name in CONFIG_NAMES and not node.args)

    def config_field(self, node: ast.FieldAccess) -> ast.Expr:
        if node.field_name not in self.config:
            self.error(f"Record does not contain a field named '{node.field_name}'", node)
            return node
        return _literal(self.config[node.field_name], node.span)

    def getopt(self, call: ast.Call) -> None:
        """bpftrace's NamedParamPass: the option a getopt() call declares."""
        if not call.args or not isinstance(call.args[0], ast.String):
            if call.args:
                self.error("First argument to 'getopt' must be a string literal.", call.args[0])
            return
        name = call.args[0].value
        description = ""
        if len(call.args) == 3:
            if not isinstance(call.args[2], ast.String):
                self.ctx.diags.warning("Function 'getopt' requires the third parameter to be a string literal.",
                                       call.args[2].span)
                return
            description = call.args[2].value
        kind, default = "bool", False
        if len(call.args) >= 2:
            arg = call.args[1]
            if isinstance(arg, ast.Boolean):
                default = arg.value
            elif isinstance(arg, ast.String):
                kind, default = "string", arg.value
            elif isinstance(arg, ast.Integer):
                kind, default = "unsigned", arg.value
            elif isinstance(arg, ast.Unop) and arg.op == "-" and isinstance(arg.operand, ast.Integer):
                kind, default = "signed", -arg.operand.value
            else:
                self.error("Second argument to 'getopt' must be a string literal, integer literal, or a "
                           "boolean literal.", arg)
                return
        seen = self.ctx.program_options.get(name)
        if seen is not None:
            if seen.default != default or type(seen.default) is not type(default):
                self.error(f"Command line option '{name}' needs to have the same default value in all places "
                           f"it is used. Previous default value: {_shown(seen.default)}", call)
                return
            if description and seen.description and description != seen.description:
                self.error(f"Command line option '{name}' must have the same description in all places it's "
                           "used. Hint: You can wrap it in a macro", call)
                return
            description = description or seen.description
        self.ctx.program_options[name] = ProgramOption(name, kind, default, description, default)

    # ------------------------------------------------------------ the command line
    def command_line(self) -> None:
        """bpftrace's GlobalVars::get_named_param_vals, over the options after `--`."""
        given: dict[str, str | None] = {}
        unexpected = []
        for param in self.ctx.options.named_params:
            name, eq, value = param.partition("=")
            given[name] = value if eq else None
            if name not in self.ctx.program_options:
                unexpected.append(name)
        if unexpected:
            self.unknown_options(unexpected)
            return
        for name, option in self.ctx.program_options.items():
            if name in given:
                value = self.option_value(option, given[name])
                if value is not None:
                    option.value = value

    def unknown_options(self, unexpected: list[str]) -> None:
        help_mode = "help" in unexpected
        named = [n for n in unexpected if n != "help"]
        expected = list(reversed(self.ctx.program_options.values()))
        if not expected:
            hint = "no custom program options defined."
        else:
            items = [f"--{o.name}" + (f": {o.description}" if help_mode and o.description else "")
                     for o in expected]
            hint = "expected program options:" + ("\n" if help_mode else " ") + ("\n" if help_mode else ": ").join(
                items)
        message = "unexpected program command line options: " + ", ".join(f"--{n}" for n in named) if named else ""
        self.ctx.diags.error(message, None, [hint])

    def option_value(self, option: ProgramOption, raw: str | None) -> bool | int | str | None:
        def bad(value: str, err: str) -> None:
            self.ctx.diags.error(f"program command line option --{option.name} {err} (value: {value})")

        if raw is None:
            if option.kind == "bool":
                return True
            bad("true", "expects a string" if option.kind == "string" else "expects an integer")
            return None
        if option.kind == "string":
            return raw
        if option.kind == "bool":
            if raw.lower() in TRUTHY:
                return True
            if raw.lower() in FALSY:
                return False
            bad(raw, "expects a boolean (e.g. 'true')")
            return None
        try:
            value = int(raw, 0)
        except ValueError:
            bad(raw, "invalid integer")
            return None
        low, high = (0, 2**64 - 1) if option.kind == "unsigned" else (-2**63, 2**63 - 1)
        if not low <= value <= high:
            bad(raw, "invalid integer" if value < 0 and option.kind == "unsigned" else "value is out of range")
            return None
        return value


def program_settings(ctx: CompileContext) -> None:
    program = ctx.program
    if program is None:
        return
    settings = _Settings(ctx)
    for probe in program.probes:
        settings.visit(probe)
    if not ctx.diags.has_errors():
        settings.command_line()
