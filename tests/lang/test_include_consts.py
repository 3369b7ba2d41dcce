"""The small preprocessor of lang/include_consts.py, over headers written by
the test (nothing is read from the host's /usr/include)."""

import os

from pytrace.lang import include_consts


def _headers(tmp_path, files: dict[str, str]) -> tuple[str, ...]:
    for name, text in files.items():
        path = tmp_path / name
        os.makedirs(path.parent, exist_ok=True)
        path.write_text(text)
    return (str(tmp_path),)


def test_defines_expressions_nested_includes_and_branches(tmp_path):
    dirs = _headers(tmp_path, {
        "linux/top.h": (
            "#ifndef TOP_H\n#define TOP_H\n#include <asm/inner.h>\n"
            "#define TWO (ONE + 1) /* a comment */\n"
            "#define MASK (1UL << 4) | \\\n    0x3\n"
            "#define OCT 0755\n"
            "#ifdef __x86_64__\n#define ARCH 64\n#else\n#define ARCH 32\n#endif\n"
            "#if defined(NOPE) || ONE > 1\n#define WRONG 1\n#elif ONE == 1\n#define RIGHT 1\n#endif\n"
            "#if __GNUC_PREREQ (4, 1)\n#define PREREQ 1\n#endif\n"
            "#define FUNC(x) ((x) + 1)\n#define CALLED FUNC(1)\n#define CAST ((int)1)\n#define SELF SELF\n"
            "#define GONE 5\n#undef GONE\n#endif\n"),
        "asm/inner.h": "#define ONE 1\n#include <linux/top.h>\n",
    })
    consts = include_consts.header_constants(["linux/top.h"], dirs)
    assert consts == {"ONE": 1, "TWO": 2, "MASK": 19, "OCT": 0o755, "ARCH": 64, "RIGHT": 1}


def test_enums_of_the_kept_text(tmp_path):
    dirs = _headers(tmp_path, {"dirent.h": (
        "#define BASE 4\nenum\n{\n  DT_UNKNOWN = 0,\n# define DT_UNKNOWN DT_UNKNOWN\n  DT_FIFO = 1,\n"
        "  DT_DIR = BASE,\n  DT_NEXT,\n};\n#if 0\nenum { HIDDEN = 9 };\n#endif\n")})
    assert include_consts.header_constants(["dirent.h"], dirs) == {
        "BASE": 4, "DT_UNKNOWN": 0, "DT_FIFO": 1, "DT_DIR": 4, "DT_NEXT": 5}


def test_missing_headers_are_skipped(tmp_path):
    assert include_consts.header_constants(["lol/no.h"], (str(tmp_path),)) == {}


def test_include_names():
    assert include_consts.include_names(["#include <linux/errno.h>", '#include "local.h"', "#define X 1"]) == [
        "linux/errno.h", "local.h"]


def test_script_lines_honour_their_conditions_and_name_missing_headers(tmp_path):
    dirs = _headers(tmp_path, {"sys/socket.h": "#define AF_INET 2\n"})
    lines = ["#ifndef BPFTRACE_HAVE_BTF", "#include <net/sock.h>", "#define X 1", "#else",
             "#include <sys/socket.h>", "#define X 2 /* two */", "#endif", "#define Y (X * 3)",
             "#include <lol/no.h>"]
    assert include_consts.script_constants(lines, True, dirs) == ({"AF_INET": 2, "X": 2, "Y": 6},
                                                                  [(8, "lol/no.h")])
    assert include_consts.script_constants(lines, False, dirs) == ({"X": 1, "Y": 3},
                                                                   [(1, "net/sock.h"), (8, "lol/no.h")])
