"""Debian's bcc (python3-bpfcc), imported lazily and found from a venv.

bcc is pure Python over libbcc.so, installed into the system's
dist-packages, which a virtualenv does not see; add that directory to the
import path only when bcc is needed and not otherwise importable."""

from __future__ import annotations

import glob
import importlib
import sys
from functools import lru_cache

SYSTEM_DIRS = ("/usr/lib/python3/dist-packages", *sorted(glob.glob("/usr/lib/python3.*/dist-packages")))


@lru_cache(maxsize=1)
def bcc():
    """The bcc module, or raise ImportError with how to install it."""
    try:
        return importlib.import_module("bcc")
    except ImportError:
        pass
    for d in SYSTEM_DIRS:
        if glob.glob(f"{d}/bcc/__init__.py"):
            if d not in sys.path:
                sys.path.append(d)
            return importlib.import_module("bcc")
    raise ImportError("bcc is not installed: apt-get install python3-bpfcc")
