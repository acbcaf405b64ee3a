"""Capture workers' stdout and stderr at the file-descriptor level, line by line.

Each worker's fds 1 and 2 are the write ends of pipes whose read ends are registered
here. One thread reads all of them with a selector, splits lines, keeps the last
``scrollback`` lines per worker and hands new lines to ``emit`` in batches (at most one
batch per 16 ms frame while output is busy, at once when it is not). A partial line is
flushed once it has waited ``partial_delay`` seconds.

Everything kept or sent is bounded in bytes, not only in lines (a line may be 10,000
characters): a batch holds at most ``BATCH_BYTES`` of JSON (32 printers flat out made
13.7 MB batches), one batch per frame, and at most ``PENDING_BYTES`` wait to be sent. A
burst is sent over a few frames; output that outruns that for long loses its oldest
waiting lines from the live stream only: they are counted in the next batch's
``skipped`` and stay in their worker's scrollback. The output of ended workers shares
one budget, ``ended_budget`` bytes: past it, the oldest ended worker's oldest lines are
dropped first (1,000 ended workers kept ~610 KiB each).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import selectors
import threading
import time
from collections.abc import Callable

FRAME = 0.016
MAX_LINE = 10_000
LINE_COST = 200  # bytes a kept line costs besides its text: tuple, time, number (tracemalloc: ~197)
BATCH_BYTES = 256 * 1024  # JSON bytes of lines in one ``output`` message at most
PENDING_BYTES = 4 * 2**20  # lines waiting to be sent (one batch per frame: ~16 MB/s at most)
LINE_JSON = 80  # JSON bytes of a line besides its text: {"pid":..,"n":..,"t":..,"stream":..}
RECENT_LINES, RECENT_BYTES = 500, 256 * 1024  # the latest lines of all workers, for a new page
ENDED_BUDGET = 64 * 2**20


def _size(text: str) -> int:
    """JSON bytes of one line in a message (its text escaped as JSON does it)."""
    if text.isascii() and text.isprintable():  # the usual case, without encoding it
        return LINE_JSON + 2 + len(text) + text.count('"') + text.count("\\")
    return LINE_JSON + len(json.dumps(text))


class WorkerOutput:
    """The bounded scrollback of one worker's output, lines kept as ``(n, t, stream, text, cost)``."""

    def __init__(self, scrollback: int) -> None:
        self.lines: collections.deque[tuple] = collections.deque()
        self.scrollback = scrollback
        self.count = 0
        self.bytes = 0
        self.open_streams = 0

    def add(self, stream: str, text: str, t: float, cost: int) -> int:
        """Keep a line (dropping the oldest past ``scrollback``); return its number."""
        self.count += 1
        self.lines.append((self.count, t, stream, text, cost))
        self.bytes += cost
        if len(self.lines) > self.scrollback:
            self.bytes -= self.lines.popleft()[4]
        return self.count

    def drop_oldest(self) -> int:
        """Drop the oldest line kept; return the bytes freed."""
        cost = self.lines.popleft()[4]
        self.bytes -= cost
        return cost

    def since(self, n: int) -> tuple[list[dict], int, int]:
        """Return lines numbered above ``n``, how many of those were dropped, and the total."""
        first = self.count - len(self.lines) + 1  # number of the oldest line kept
        dropped = max(0, first - 1 - n) if self.count else 0
        skip = max(0, n - (first - 1))
        lines = [
            {"n": n, "t": t, "stream": stream, "text": text}
            for n, t, stream, text, _ in itertools.islice(self.lines, skip, None)
        ]
        return lines, dropped, self.count


class OutputCapture:
    """Reads every worker's output pipes in one thread and keeps bounded scrollback."""

    def __init__(
        self,
        emit: Callable[[list[dict], int], None],
        scrollback: int = 2000,
        partial_delay: float = 0.1,
        ended_budget: int = ENDED_BUDGET,
    ) -> None:
        self.emit = emit
        self.scrollback = scrollback
        self.partial_delay = partial_delay
        self.ended_budget = ended_budget
        self.outputs: dict[int, WorkerOutput] = {}
        # workers whose streams all closed, oldest first, and the bytes they keep in all
        self.ended: dict[int, WorkerOutput] = {}
        self.ended_bytes = 0
        # the latest lines of all workers together, for a page that opens later: (line, size)
        self.recent_lines: collections.deque[dict] = collections.deque()
        self.recent_bytes = 0
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.partial: dict[tuple[int, str], tuple[bytes, float]] = {}
        # lines not sent yet, newest last, with their JSON size; older ones past PENDING_BYTES
        # are left out of the live stream (they stay in each worker's scrollback)
        # (bytes waiting and recent are counted as the text's length plus LINE_JSON: cheap,
        # and exact for plain ASCII; a batch's bound is exact, see _next_batch)
        self.pending: collections.deque[dict] = collections.deque()
        self.pending_bytes = 0
        self.skipped = 0
        self.last_emit = 0.0
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="mpscope-output", daemon=True)
        self.thread.start()

    def attach(self, pid: int, streams: dict[str, int]) -> None:
        """Start reading ``{"stdout": fd, "stderr": fd}`` for worker ``pid``; we own the fds."""
        with self.lock:
            output = self.outputs.setdefault(pid, WorkerOutput(self.scrollback))
            for stream, fd in streams.items():
                os.set_blocking(fd, False)
                self.selector.register(fd, selectors.EVENT_READ, (pid, stream))
                output.open_streams += 1
        self._wake()

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

    def close(self) -> None:
        self.stopping = True
        self._wake()
        self.thread.join(2)

    def _wake(self) -> None:
        try:
            os.write(self.wake_w, b"x")
        except BlockingIOError:
            pass

    def _run(self) -> None:
        while not self.stopping:
            now = time.monotonic()
            deadlines = [since + self.partial_delay for _, since in self.partial.values()]
            if self.pending:
                deadlines.append(self.last_emit + FRAME)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            for key, _ in self.selector.select(timeout):
                if key.data is None:
                    os.read(self.wake_r, 4096)
                else:
                    self._read(key.fd, *key.data)
            self._flush_partials()
            if self.pending and time.monotonic() - self.last_emit >= FRAME:
                self.last_emit = time.monotonic()
                self.emit(*self._next_batch())
        for key in list(self.selector.get_map().values()):
            if key.data is not None:
                os.close(key.fd)

    def _next_batch(self) -> tuple[list[dict], int]:
        """Take the oldest pending lines, up to BATCH_BYTES; return them and the count skipped."""
        batch, size = [], 0
        with self.lock:
            while self.pending:
                line_size = _size(self.pending[0]["text"])
                if batch and size + line_size > BATCH_BYTES:
                    break
                line = self.pending.popleft()
                batch.append(line)
                size += line_size
                self.pending_bytes -= len(line["text"]) + LINE_JSON
            skipped, self.skipped = self.skipped, 0
        return batch, skipped

    def _read(self, fd: int, pid: int, stream: str) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        key = (pid, stream)
        buffered, since = self.partial.pop(key, (b"", time.monotonic()))
        if not data:  # EOF: the worker closed this stream (it exited)
            self.selector.unregister(fd)
            os.close(fd)
            if buffered:
                self._add(pid, stream, [buffered])
            with self.lock:
                output = self.outputs.get(pid)
                if output is not None:
                    output.open_streams -= 1
                    if output.open_streams == 0:
                        self._end(pid, output)
            return
        *complete, rest = (buffered + data).split(b"\n")
        if complete:
            self._add(pid, stream, complete)
            since = time.monotonic()
        if rest:
            self.partial[key] = (rest, since)

    def _flush_partials(self) -> None:
        now = time.monotonic()
        for key, (buffered, since) in list(self.partial.items()):
            if now - since >= self.partial_delay:
                del self.partial[key]
                self._add(key[0], key[1], [buffered])

    def _add(self, pid: int, stream: str, raw_lines: list[bytes]) -> None:
        t = time.time()
        with self.lock:
            output = self.outputs.get(pid)
            if output is None:
                return
            new = []
            added = 0
            for raw in raw_lines:
                raw = raw[:MAX_LINE]
                text = raw.decode("utf-8", "replace").rstrip("\r")
                n = output.add(stream, text, t, len(raw) + LINE_COST)
                new.append({"pid": pid, "n": n, "t": t, "stream": stream, "text": text})
                added += len(text) + LINE_JSON
            self.pending.extend(new)
            self.pending_bytes += added
            while self.pending_bytes > PENDING_BYTES:
                self.pending_bytes -= len(self.pending.popleft()["text"]) + LINE_JSON
                self.skipped += 1
            recent = new[-RECENT_LINES:]
            self.recent_lines.extend(recent)
            self.recent_bytes += sum(len(line["text"]) + LINE_JSON for line in recent)
            while len(self.recent_lines) > RECENT_LINES or self.recent_bytes > RECENT_BYTES:
                self.recent_bytes -= len(self.recent_lines.popleft()["text"]) + LINE_JSON
