"""C++ names demangled in-process (libstdc++'s __cxa_demangle through ctypes)."""

import pytest

from pytrace.lang import elf
from pytrace.lang.demangle import demangle


@pytest.mark.parametrize("mangled, plain", [
    ("_ZNK6shapes6Circle4areaEi", "shapes::Circle::area(int) const"),
    ("_Z7measureRKN6shapes6CircleE", "measure(shapes::Circle const&)"),
    ("_Z3foov.cold", "foo() [clone .cold]"),
    ("_ZN3foo3barIiEEvT_", "void foo::bar<int>(int)"),
    ("main", "main"),  # not mangled
    ("_Znotvalid", "_Znotvalid"),  # does not demangle: as it is
])
def test_demangle(mangled, plain):
    assert demangle(mangled) == plain


def test_elf_demangle_maps_only_mangled_names():
    assert elf.demangle(["main", "_ZNK6shapes6Circle4areaEi"]) == {
        "_ZNK6shapes6Circle4areaEi": "shapes::Circle::area(int) const"}
