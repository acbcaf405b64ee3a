"""KeptOutput: what the output capture keeps of every worker's lines, bounded in bytes.

Each worker's scrollback (:class:`~webapp.scrollback.WorkerOutput`), the latest lines of
all workers for a page that opens later, and the lines waiting to be sent. Everything is
bounded in bytes, not only in lines (a line may be 10,000 characters): at most
``PENDING_BYTES`` wait to be sent; output that outruns the batches for long loses its
oldest waiting lines from the live stream only: they are counted in the next batch's
``skipped`` and stay in their worker's scrollback. The output of ended workers shares one
budget, ``ended_budget`` bytes: past it, the oldest ended worker's oldest lines are dropped
first (1,000 ended workers kept ~610 KiB each). :class:`~webapp.output.OutputCapture`, a
subclass, fills it.
"""

from __future__ import annotations

import collections
import threading

from .scrollback import WorkerOutput, cheap_size

PENDING_BYTES = 4 * 2**20  # lines waiting to be sent (one batch per frame: ~16 MB/s at most)
RECENT_LINES, RECENT_BYTES = 500, 256 * 1024  # the latest lines of all workers, for a new page
ENDED_BUDGET = 64 * 2**20


class KeptOutput:
    """Every worker's kept lines, the recent ones and those to send; all under ``lock``."""

    def __init__(self, scrollback: int, ended_budget: int) -> None:
        self.scrollback = scrollback
        self.ended_budget = ended_budget
        self.outputs: dict[int, WorkerOutput] = {}
        # workers whose streams all closed, oldest first, and the bytes they keep in all
        self.ended: dict[int, WorkerOutput] = {}
        self.ended_bytes = 0
        # the latest lines of all workers together, for a page that opens later: (line, size)
        self.recent_lines: collections.deque[dict] = collections.deque()
        self.recent_bytes = 0
        self.lock = threading.Lock()
        # lines not sent yet, newest last, with their JSON size; older ones past PENDING_BYTES
        # are left out of the live stream (they stay in each worker's scrollback)
        # (bytes waiting and recent are counted as the text's length plus LINE_JSON: cheap,
        # and exact for plain ASCII; a batch's bound is exact, see OutputCapture._next_batch)
        self.pending: collections.deque[dict] = collections.deque()
        self.pending_bytes = 0
        self.skipped = 0

    def lines(self, pid: int, since: int = 0) -> tuple[list[dict], int, int] | None:
        """Return ``(lines, dropped, total)`` for ``pid`` after line ``since``, or None if unknown."""
        with self.lock:
            output = self.outputs.get(pid)
            return None if output is None else output.since(since)

    def recent(self) -> list[dict]:
        """The last lines of all workers, oldest first."""
        with self.lock:
            return list(self.recent_lines)

    def forget(self, pid: int) -> None:
        """Drop the scrollback of a worker that was cleared from the table."""
        with self.lock:
            self.outputs.pop(pid, None)
            output = self.ended.pop(pid, None)
            if output is not None:
                self.ended_bytes -= output.bytes

    def _end(self, pid: int, output: WorkerOutput) -> None:
        """Count an ended worker's output in the ended budget; drop the oldest lines past it.

        The caller holds ``lock``.
        """
        self.ended[pid] = output
        self.ended_bytes += output.bytes
        for oldest in self.ended.values():
            while self.ended_bytes > self.ended_budget and oldest.lines:
                self.ended_bytes -= oldest.drop_oldest()
            if self.ended_bytes <= self.ended_budget:
                return

    def _add_pending(self, new: list[dict], added: int) -> None:
        """Queue lines to send (``added``: their cheap size); past PENDING_BYTES the oldest are
        skipped. The caller holds ``lock``."""
        self.pending.extend(new)
        self.pending_bytes += added
        while self.pending_bytes > PENDING_BYTES:
            self.pending_bytes -= cheap_size(self.pending.popleft())
            self.skipped += 1

    def _add_recent(self, new: list[dict], added: int) -> None:
        self.recent_lines.extend(new)
        self.recent_bytes += added
        while len(self.recent_lines) > RECENT_LINES or self.recent_bytes > RECENT_BYTES:
            self.recent_bytes -= cheap_size(self.recent_lines.popleft())

    def _replace_recent(self, line: dict) -> None:
        """Put a new state of an open line in place of its last one among the recent lines."""
        pid, n = line["pid"], line["n"]
        recent = self.recent_lines
        for i, old in enumerate(reversed(recent)):
            if old["n"] == n and old["pid"] == pid:
                recent[-1 - i] = line
                self.recent_bytes += cheap_size(line) - cheap_size(old)
                return
