"""pytrace: a bpftrace-compatible tracing language, compiled in Python."""

__version__ = "0.1.0"
