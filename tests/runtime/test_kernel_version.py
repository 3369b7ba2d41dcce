"""bpf._kernel_version_code(): KERNEL_VERSION(a, b, c) of a release string, as the kernel's
version code for BPF_PROG_LOAD's kern_version and the RLIMIT_MEMLOCK decision (before 5.11)."""

import os
from unittest import mock

import pytest

from pytrace.runtime import bpf


@pytest.mark.parametrize("release, code", [
    ("6.1.0-18-amd64", (6 << 16) + (1 << 8)),
    ("6.18.44-fc-v1272", (6 << 16) + (18 << 8) + 44),
    ("5.10", (5 << 16) + (10 << 8)),
    ("4.19.0+", (4 << 16) + (19 << 8)),
    ("5.4.300-rc1", (5 << 16) + (4 << 8) + 255),  # the patch level is capped at 255, as the kernel's macro
    ("6", 0),
    ("custom", 0),
])
def test_release_strings(release, code):
    with mock.patch.object(os, "uname", return_value=mock.Mock(release=release)):
        assert bpf._kernel_version_code() == code
