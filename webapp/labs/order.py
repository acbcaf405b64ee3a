"""ReportOrder: one lab run's reports, put back in the order its processes made them.

Each process of a run reports over its own agent connection, and the listener reads the
connections in whatever order they are ready: two processes that print under the run's
lock could otherwise reach the shared screen in the wrong order. So every report carries
a number taken under the run's lock (``seq``), and this buffer hands them out in that
order. A number that never arrives — its process was killed between taking it and
sending — is skipped once the reports after it have waited ``GAP`` seconds.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time

GAP = 0.25


class ReportOrder:
    """Reports in, by number; the in-order run of them out."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.pending: list[tuple[int, int, dict]] = []  # (seq, arrival, message)
        self.arrivals = itertools.count()  # ties (a malformed seq twice) keep arrival order
        self.next = 0
        self.stalled_since: float | None = None  # when the head of ``pending`` started to wait

    def put(self, seq: int, message: dict) -> None:
        with self.cond:
            if seq < self.next:
                return  # its place was skipped: it came too late to be put back in order
            heapq.heappush(self.pending, (seq, next(self.arrivals), message))
            self.cond.notify()

    def take(self, timeout: float) -> list[dict]:
        """The reports that are next in order, waiting up to ``timeout`` for one."""
        with self.cond:
            if not self._ready():
                self.cond.wait_for(self._ready, timeout)
            out = []
            while self.pending and (self.pending[0][0] == self.next or self._gave_up()):
                seq, _, message = heapq.heappop(self.pending)
                self.next = seq + 1
                self.stalled_since = None
                out.append(message)
            if self.pending and self.stalled_since is None:
                self.stalled_since = time.monotonic()
            return out

    def _ready(self) -> bool:
        return bool(self.pending) and (self.pending[0][0] == self.next or self._gave_up())

    def _gave_up(self) -> bool:
        return self.stalled_since is not None and time.monotonic() - self.stalled_since > GAP
