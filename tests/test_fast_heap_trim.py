"""Fast: the heap is trimmed after big snapshot builds only, and at most every few seconds.

``HeapTrimmer`` gives the allocator's free pages back after a build made ``TRIM_AFTER``
bytes (a big state's snapshot); small builds (a few changed chunks) only add up, and a
burst of big ones trims once, so a polled big state does not walk the heap per GET. The
last test joins a real snapshot's groups and sees the real ``malloc_trim`` run.
"""

from __future__ import annotations

import pytest

from webapp import allocator, snapshots
from webapp.allocator import TRIM_AFTER, HeapTrimmer

pytestmark = pytest.mark.fast


def counting(trimmer: HeapTrimmer, monkeypatch) -> list[int]:
    """Count ``trimmer``'s trims (each still the real ``malloc_trim`` where there is one)."""
    calls: list[int] = []
    real = trimmer.trim

    def trim(pad: int) -> int:
        calls.append(pad)
        return real(pad) if real is not None else 0

    monkeypatch.setattr(trimmer, "trim", trim)
    return calls


def test_small_builds_add_up_before_a_trim(monkeypatch):
    trimmer = HeapTrimmer()
    calls = counting(trimmer, monkeypatch)
    for _ in range(3):
        trimmer.built(TRIM_AFTER // 4)
    assert calls == []
    trimmer.built(TRIM_AFTER // 4)
    assert calls == [0]


def test_a_burst_of_big_builds_trims_once(monkeypatch):
    now = [1000.0]
    trimmer = HeapTrimmer(clock=lambda: now[0])
    calls = counting(trimmer, monkeypatch)
    for _ in range(5):
        trimmer.built(TRIM_AFTER)
    assert len(calls) == 1
    now[0] += allocator.TRIM_EVERY
    trimmer.built(1)  # what the burst made since is counted: the next build trims
    assert len(calls) == 2


def test_a_big_snapshot_join_trims_the_heap(monkeypatch):
    calls = counting(snapshots.TRIMMER, monkeypatch)
    monkeypatch.setattr(snapshots.TRIMMER, "last", -allocator.TRIM_EVERY)  # however long ago it trimmed
    pieces = [bytes(1000) for _ in range(TRIM_AFTER // 1000 + 1)]
    joined = snapshots.Grouper()(pieces)
    assert b"".join(joined) == b"".join(pieces)
    assert calls == [0]
