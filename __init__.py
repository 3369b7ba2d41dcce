"""pytrace: a bpftrace-compatible tracing language, compiled in Python.

The Python API (runtime/api.py) is importable from here without loading it
up front (the command line starts faster without it):

    import pytrace
    with pytrace.compile('tracepoint:syscalls:sys_enter_getppid { @n = count(); }').attach() as probes:
        ...
        probes.maps()
"""

__version__ = "0.1.0"

_API = ("compile", "attach", "Program", "Probes", "Event", "CompileError", "AttachError", "to_dataframe")


def __getattr__(name: str):
    if name in _API:
        from pytrace.runtime import api

        return getattr(api, name)
    raise AttributeError(f"module 'pytrace' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
