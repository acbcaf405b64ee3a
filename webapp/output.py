"""Capture workers' stdout and stderr at the file-descriptor level, line by line.

Each worker's fds 1 and 2 are the write ends of pipes whose read ends are registered
here. One thread reads all of them with a selector, splits lines, keeps the last
``scrollback`` lines per worker and hands new lines to ``emit`` in batches (at most one
batch per 16 ms frame while output is busy, at once when it is not). A partial line is
flushed once it has waited ``partial_delay`` seconds.
"""

from __future__ import annotations

import collections
import itertools
import os
import selectors
import threading
import time
from collections.abc import Callable

FRAME = 0.016
MAX_LINE = 10_000


class WorkerOutput:
    """The bounded scrollback of one worker's output."""

    def __init__(self, scrollback: int) -> None:
        self.lines: collections.deque = collections.deque(maxlen=scrollback)
        self.count = 0
        self.open_streams = 0

    def add(self, stream: str, text: str, t: float) -> dict:
        self.count += 1
        line = {"n": self.count, "t": t, "stream": stream, "text": text}
        self.lines.append(line)
        return line

    def since(self, n: int) -> tuple[list[dict], int, int]:
        """Return lines numbered above ``n``, how many of those were dropped, and the total."""
        first = self.count - len(self.lines) + 1  # number of the oldest line kept
        dropped = max(0, first - 1 - n) if self.count else 0
        skip = max(0, n - (first - 1))
        return list(itertools.islice(self.lines, skip, None)), dropped, self.count


class OutputCapture:
    """Reads every worker's output pipes in one thread and keeps bounded scrollback."""

    def __init__(
        self,
        emit: Callable[[list[dict]], None],
        scrollback: int = 2000,
        partial_delay: float = 0.1,
    ) -> None:
        self.emit = emit
        self.scrollback = scrollback
        self.partial_delay = partial_delay
        self.outputs: dict[int, WorkerOutput] = {}
        # the latest lines of all workers together, for a page that opens later
        self.recent_lines: collections.deque = collections.deque(maxlen=500)
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.partial: dict[tuple[int, str], tuple[bytes, float]] = {}
        self.pending: list[dict] = []
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
                batch, self.pending = self.pending, []
                self.last_emit = time.monotonic()
                self.emit(batch)
        for key in list(self.selector.get_map().values()):
            if key.data is not None:
                os.close(key.fd)

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
            for raw in raw_lines:
                text = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r")
                line = {"pid": pid, **output.add(stream, text, t)}
                self.pending.append(line)
                self.recent_lines.append(line)
