"""C++ names demangled in-process, by libstdc++'s `__cxa_demangle` through
ctypes (the demangler c++filt and gdb use, without starting a process per
name or per batch). Without libstdc++ a name stays as it is.

    demangle("_ZNK6shapes6Circle4areaEi") == "shapes::Circle::area(int) const"
"""

from __future__ import annotations

import ctypes
from functools import lru_cache


@lru_cache(maxsize=1)
def _functions():
    """(__cxa_demangle, free), or None without libstdc++."""
    import ctypes.util  # (its find_library imports subprocess: only when a name is demangled)

    try:
        stdcxx = ctypes.CDLL(ctypes.util.find_library("stdc++") or "libstdc++.so.6")
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    cxa_demangle = stdcxx.__cxa_demangle
    cxa_demangle.restype = ctypes.c_void_p  # malloc'ed: freed below
    cxa_demangle.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    free = libc.free
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    return cxa_demangle, free


@lru_cache(maxsize=8192)
def demangle(name: str) -> str:
    """The demangled form of a mangled C++ name (`_Z...`); any other name, or
    one that does not demangle, as it is."""
    functions = _functions() if name.startswith("_Z") else None
    if functions is None:
        return name
    cxa_demangle, free = functions
    status = ctypes.c_int(0)
    result = cxa_demangle(name.encode("utf-8", "surrogateescape"), None, None, ctypes.byref(status))
    if status.value != 0 or not result:
        return name
    try:
        return ctypes.string_at(result).decode("utf-8", "surrogateescape")
    finally:
        free(result)
