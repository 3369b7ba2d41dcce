"""runtime/cleanup.py: which tracefs events are stale (their pytrace process
is gone), on a directory standing in for tracefs."""

import os

from pytrace.runtime import cleanup


def dead_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    return pid


def test_events_of_dead_processes_are_stale_and_removed(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    (tmp_path / "kprobe_events").write_text(
        f"p:kprobes/pytrace_{dead}_0 vfs_read\nr:kprobes/pytrace_{alive}_1 vfs_read\np:kprobes/other vfs_read\n")
    (tmp_path / "uprobe_events").write_text(f"p:uprobes/pytrace_{dead}_3 /bin/true:0x0000000000001000\n")
    assert cleanup.stale_events(str(tmp_path)) == [("kprobe_events", f"kprobes/pytrace_{dead}_0"),
                                                   ("uprobe_events", f"uprobes/pytrace_{dead}_3")]
    assert cleanup.remove_stale(str(tmp_path)) == [f"kprobes/pytrace_{dead}_0", f"uprobes/pytrace_{dead}_3"]
    # What was written: tracefs' removal lines (a real tracefs then drops the events).
    assert (tmp_path / "kprobe_events").read_text().endswith(f"-:kprobes/pytrace_{dead}_0\n")
    assert (tmp_path / "uprobe_events").read_text().endswith(f"-:uprobes/pytrace_{dead}_3\n")


def test_no_tracefs_no_events(tmp_path):
    assert cleanup.remove_stale(str(tmp_path / "missing")) == []
