"""A run's user-symbol settings (config show_debug_info and cache_user_symbols,
from the artifact), kept here so that a session can set them before attaching
without importing runtime/symbols.py, which is only imported once a stack or
symbol is printed."""

from __future__ import annotations

import sys

current: dict = {}


def apply(settings: dict) -> None:
    """The settings of the run starting now (applied at once if symbols are already in use)."""
    current.clear()
    current.update(settings)
    symbols = sys.modules.get("pytrace.runtime.symbols")
    if symbols is not None:
        symbols.SYMBOLS.configure(**current)  # type: ignore[attr-defined]
