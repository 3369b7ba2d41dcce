"""release_all(): every attachment fd closed and its cleanup run, from several threads."""

import os

from pytrace.runtime import attach


def test_release_all_closes_every_fd_and_runs_each_cleanup():
    fds, undone = [], []
    for _ in range(40):
        r, w = os.pipe()
        os.close(w)
        fds.append(r)
        attach._CLEANUPS[r] = lambda r=r: undone.append(r)
    attach.release_all(fds, threads=8)
    assert sorted(undone) == sorted(fds)
    for fd in fds:
        try:
            os.fstat(fd)
        except OSError:
            continue
        raise AssertionError(f"fd {fd} is still open")


def test_release_all_of_one_or_none():
    r, w = os.pipe()
    attach.release_all([r])
    attach.release_all([])
    os.close(w)
    try:
        os.fstat(r)
        raise AssertionError("still open")
    except OSError:
        pass


def test_release_all_leaves_linked_perf_events_to_threads():
    """A perf event whose program went through a BPF link is closed by a returned
    thread, after the link (closed before release_all returns)."""
    link, w1 = os.pipe()
    event, w2 = os.pipe()
    attach._LINKED.add(event)
    threads = attach.release_all([link, event])
    try:
        os.fstat(link)
        raise AssertionError("the link is still open")
    except OSError:
        pass
    assert threads
    for t in threads:
        t.join()
    try:
        os.fstat(event)
        raise AssertionError("the perf event is still open")
    except OSError:
        pass
    assert event not in attach._LINKED
    os.close(w1)
    os.close(w2)
