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
