"""Overload: a map at max_map_keys warns (at the map) and the number of
dropped updates of each map is reported at exit, exactly."""

import pytest

from conftest import run_pytrace

pytestmark = pytest.mark.kernel


def test_full_maps_report_the_dropped_updates_at_exit():
    r = run_pytrace("-e", "config = { max_map_keys = 5 } BEGIN { $i = 0; while ($i < 20) { @m[$i] = 1; "
                          "@n[$i, 1] = 2; $i++; } @m[0] = 3; exit(); }")
    assert r.rc == 0, r
    # One warning per map, at the map's update, in bpftrace's words.
    assert r.err.count("WARNING: Map full; can't update element.") == 2
    assert "@m[$i] = 1" in r.err and "~~~~~~" in r.err
    # At exit: the map, its size and every update refused (an update of a present key is not refused).
    assert "WARNING: map @m was full (5 keys): 15 updates dropped" in r.err
    assert "WARNING: map @n was full (5 keys): 15 updates dropped" in r.err
    assert r.out.count("@m[") == 5 and "@m[0]: 3" in r.out


def test_no_report_when_nothing_was_dropped():
    r = run_pytrace("-e", "config = { max_map_keys = 5 } BEGIN { @m[1] = 1; @m[1] = 2; exit(); }")
    assert r.rc == 0, r
    assert "dropped" not in r.err and "Map full" not in r.err
