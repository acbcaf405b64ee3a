"""Capture workers' stdout and stderr at the file-descriptor level, line by line.

Each worker's fds 1 and 2 are the write ends of pipes whose read ends are registered
here. One thread reads all of them with a selector, splits lines, keeps the last
``scrollback`` lines per worker and hands new lines to ``emit`` in batches (at most one
batch per 16 ms frame while output is busy, at once when it is not).

Each line keeps its raw ``text`` and adds the line as a terminal shows it (``rendered``,
and ``styles`` for its colours: :mod:`webapp.terminal`). A line printed in pieces is one
line: once its first piece has waited ``partial_delay`` seconds without a newline it is
sent as ``open`` (in progress), numbered as any line, and every later piece (a ``\r``
redraw of a progress bar, the next word) sends that same line again, same ``n``, at most
once per frame, until its newline comes (or the stream ends) and it is sent one last time
without ``open``.

Everything kept or sent is bounded in bytes, not only in lines (a line may be 10,000
characters): a batch holds at most ``BATCH_BYTES`` of JSON (32 printers flat out made
13.7 MB batches), one batch per frame, and at most ``PENDING_BYTES`` wait to be sent. A
burst is sent over a few frames; output that outruns that for long loses its oldest
waiting lines from the live stream only: they are counted in the next batch's
``skipped`` and stay in their worker's scrollback. The output of ended workers shares
one budget, ``ended_budget`` bytes: past it, the oldest ended worker's oldest lines are
dropped first (1,000 ended workers kept ~610 KiB each).

A worker printing flat out writes faster than lines can be split and kept here, and a pipe
holds 64 KiB: it waited on us (a 200,000-line printer took ~4x as long as printing to a
file). So the pipes are read ahead of the parsing, into memory, up to ``READ_AHEAD`` bytes in
all (then the pipes fill and the writers wait, as before), and parsed ``SLICE`` bytes at a
time between reads; the pipe of a stream that brought ``GROW_AFTER`` bytes is grown to
``PIPE_SIZE`` (a few at once at most:
the kernel counts pipe memory per user) so that it holds what comes while a slice is parsed
or a batch is sent. The lines shown are the same, in the same order.
"""

from __future__ import annotations

import codecs
import collections
import fcntl
import os
import selectors
import threading
import time
from collections.abc import Callable

from .scrollback import LINE_COST, LINE_JSON, WorkerOutput, cheap_size, line_message, line_size
from .terminal import LineRenderer, Style, render_line

FRAME = 0.016
MAX_LINE = 10_000
BATCH_BYTES = 256 * 1024  # JSON bytes of lines in one ``output`` message at most
PENDING_BYTES = 4 * 2**20  # lines waiting to be sent (one batch per frame: ~16 MB/s at most)
RECENT_LINES, RECENT_BYTES = 500, 256 * 1024  # the latest lines of all workers, for a new page
ENDED_BUDGET = 64 * 2**20
READ_AHEAD = 32 * 2**20  # bytes read from the pipes and not parsed yet, in all streams, at most
SLICE = 16 * 1024  # bytes of one stream parsed between two reads of the pipes
PIPE_SIZE = 2**20  # a pipe found full is grown to this (Linux's default most for a user)
GROWN_MAX = 8  # pipes grown at once at most
GROW_AFTER = 256 * 1024  # a stream's pipe is grown once it brought this much


def read_pipe(fd: int) -> bytes | None:
    """Up to 64 KiB of what non-blocking pipe ``fd`` holds: None if nothing yet, ``b""`` at its
    end (or if it broke: either way nothing more will come)."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class _Stream:
    """One stream of one worker: the line it is printing, and its terminal style."""

    __slots__ = (
        "pid", "name", "buffered", "since", "style", "line", "decoder", "raw", "n", "t", "sent",
        "chunks", "eof", "grown", "read",
    )  # fmt: skip

    def __init__(self, pid: int, name: str) -> None:
        self.pid, self.name = pid, name
        self.chunks: collections.deque[bytes] = collections.deque()  # read, not parsed yet
        self.eof = False  # the pipe ended (what is in chunks is its last output)
        self.grown = False  # its pipe was grown to PIPE_SIZE
        self.read = 0  # bytes read from its pipe
        self.buffered = b""  # the start of a line not shown yet
        self.since = 0.0  # when it started waiting
        self.style = Style()  # SGR state: it carries over from line to line, as on a terminal
        self.line: LineRenderer | None = None  # the line shown as open, if any
        self.decoder: codecs.IncrementalDecoder | None = None
        self.raw = ""  # the open line's raw text
        self.n: int | None = None  # the open line's number
        self.t = 0.0  # when it last changed
        self.sent = False  # the open line was sent (and is among the recent lines)


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
        self.streams: dict[tuple[int, str], _Stream] = {}  # every stream read, by (pid, name)
        self.changed: dict[tuple[int, str], _Stream] = {}  # open lines to send again
        self.waiting: dict[tuple[int, str], _Stream] = {}  # the starts of lines not shown yet
        # lines not sent yet, newest last, with their JSON size; older ones past PENDING_BYTES
        # are left out of the live stream (they stay in each worker's scrollback)
        # (bytes waiting and recent are counted as the text's length plus LINE_JSON: cheap,
        # and exact for plain ASCII; a batch's bound is exact, see _next_batch)
        self.pending: collections.deque[dict] = collections.deque()
        self.pending_bytes = 0
        self.skipped = 0
        self.last_emit = 0.0
        self.behind: dict[tuple[int, str], _Stream] = {}  # streams with chunks read, not parsed
        self.ahead = 0  # bytes in all those chunks
        self.paused: dict[int, tuple[int, str]] = {}  # fds left unread while READ_AHEAD is full
        self.grown = 0  # pipes grown to PIPE_SIZE, open
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
            deadlines = [st.since + self.partial_delay for st in self.waiting.values()]
            if self.pending or self.changed:
                deadlines.append(self.last_emit + FRAME)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            for key, _ in self.selector.select(0 if self.behind else timeout):
                if key.data is None:
                    os.read(self.wake_r, 4096)
                else:
                    self._read(key.fd, *key.data)
            if self.behind:
                self._parse_some()
            self._show_waiting()
            if (self.pending or self.changed) and time.monotonic() - self.last_emit >= FRAME:
                self.last_emit = time.monotonic()
                self.emit(*self._next_batch())
        for key in list(self.selector.get_map().values()):
            if key.data is not None:
                os.close(key.fd)
        for fd in self.paused:
            os.close(fd)

    def _next_batch(self) -> tuple[list[dict], int]:
        """Take the oldest pending lines, up to BATCH_BYTES, and the open lines that changed;
        return them and the count skipped."""
        batch, size = [], 0
        with self.lock:
            while self.pending:
                this = line_size(self.pending[0])
                if batch and size + this > BATCH_BYTES:
                    break
                line = self.pending.popleft()
                batch.append(line)
                size += this
                self.pending_bytes -= cheap_size(line)
            skipped, self.skipped = self.skipped, 0
            for key, st in list(self.changed.items()):
                line = self._publish(st, is_open=True)
                this = line_size(line)
                if batch and size + this > BATCH_BYTES:
                    break  # sent at the next frame, as it will be then
                del self.changed[key]
                batch.append(line)
                size += this
        return batch, skipped

    def _read(self, fd: int, pid: int, stream: str) -> None:
        """Read what the pipe holds into the stream's chunks (parsed later, in slices)."""
        key = (pid, stream)
        st = self.streams.get(key)
        if st is None:
            st = self.streams[key] = _Stream(pid, stream)
        while self.ahead < READ_AHEAD:
            data = read_pipe(fd)
            if data is None:
                return
            if not data:  # EOF: the worker closed this stream (it exited)
                self.selector.unregister(fd)
                os.close(fd)
                if st.grown:
                    self.grown -= 1
                st.eof = True
                self.behind[key] = st
                return
            st.read += len(data)
            if st.read >= GROW_AFTER and not st.grown:
                self._grow(st, fd)  # a flood: it would wait for us at each 64 KiB
            st.chunks.append(data)
            self.ahead += len(data)
            self.behind[key] = st
        self.selector.unregister(fd)  # READ_AHEAD is full: its writer waits, as on a full pipe
        self.paused[fd] = key

    def _grow(self, st: _Stream, fd: int) -> None:
        size = getattr(fcntl, "F_SETPIPE_SZ", None)
        if size is None or self.grown >= GROWN_MAX:
            return
        try:
            fcntl.fcntl(fd, size, PIPE_SIZE)
        except OSError:  # over the user's pipe memory: it stays as it is
            return
        st.grown = True
        self.grown += 1

    def _parse_some(self) -> None:
        """Parse up to SLICE bytes of each stream read ahead; resume the pipes left unread."""
        for key, st in list(self.behind.items()):
            if st.chunks:
                data = st.chunks.popleft()
                if len(data) > SLICE:
                    st.chunks.appendleft(data[SLICE:])
                    data = data[:SLICE]
                self.ahead -= len(data)
                self._parse(st, key, data)
            if not st.chunks:
                del self.behind[key]
                if st.eof:
                    self._ended(st, key)
        if self.paused and self.ahead < READ_AHEAD // 2:
            for fd, key in self.paused.items():
                self.selector.register(fd, selectors.EVENT_READ, key)
            self.paused = {}

    def _ended(self, st: _Stream, key: tuple[int, str]) -> None:
        """The stream's pipe ended and all it brought is parsed: finish its last line."""
        if st.n is not None:
            self._finish(st)
        elif st.buffered:
            self._add(st, [st.buffered])
        del self.streams[key]
        self.waiting.pop(key, None)
        with self.lock:
            output = self.outputs.get(st.pid)
            if output is not None:
                output.open_streams -= 1
                if output.open_streams == 0:
                    self._end(st.pid, output)

    def _parse(self, st: _Stream, key: tuple[int, str], data: bytes) -> None:
        """Split a piece of the stream into lines, keep and queue them."""
        if st.n is not None:  # a line shown as open: this piece goes on with it
            cut = data.find(b"\n")
            if cut < 0:
                self._continue(st, data)
                return
            self._continue(st, data[:cut])
            self._finish(st)
            data = data[cut + 1 :]
            if not data:
                return
        *complete, rest = (st.buffered + data).split(b"\n") if st.buffered else data.split(b"\n")
        if complete:
            self._add(st, complete)
        if rest and (complete or not st.buffered):
            st.since = time.monotonic()
        st.buffered = rest
        if rest:
            self.waiting[key] = st
        else:
            self.waiting.pop(key, None)

    def _show_waiting(self) -> None:
        """Show the unfinished lines that waited ``partial_delay`` as open lines."""
        if not self.waiting:
            return
        now = time.monotonic()
        for key, st in list(self.waiting.items()):
            if now - st.since >= self.partial_delay:
                del self.waiting[key]
                st.decoder = codecs.getincrementaldecoder("utf-8")("replace")
                st.line = LineRenderer(st.style)
                st.raw = ""
                st.sent = False
                data, st.buffered = st.buffered, b""
                with self.lock:
                    output = self.outputs.get(st.pid)
                    if output is None:
                        st.line = st.decoder = None
                        continue
                    st.n = output.add(st.name, "", "", None, True, time.time(), LINE_COST)
                self._continue(st, data)

    def _continue(self, st: _Stream, data: bytes) -> None:
        """A piece of the open line: apply it; the line is sent again at the next frame."""
        text = st.decoder.decode(data)
        st.line.feed(text)
        raw = st.raw + text
        # a line written in pieces keeps its latest MAX_LINE characters (a progress bar's last redraws)
        st.raw = raw if len(raw) <= MAX_LINE else raw[-MAX_LINE:]
        st.t = time.time()
        self.changed[(st.pid, st.name)] = st

    def _publish(self, st: _Stream, is_open: bool) -> dict:
        """The open line's current state: kept in its place in the scrollback, returned as a
        message, and among the recent lines. The caller holds ``lock``."""
        rendered, styles = st.line.render()
        raw = st.raw
        cost = LINE_COST + len(raw) + (len(rendered) if rendered != raw else 0)
        if styles:
            cost += 40 * len(styles)
        entry = (st.n, st.t, st.name, raw, rendered, styles, is_open, cost)
        output = self.outputs.get(st.pid)
        if output is not None:
            output.replace(entry)
        line = line_message(st.pid, entry)
        if st.sent:
            self._replace_recent(line)
        else:
            self._add_recent([line], cheap_size(line))
        st.sent = True
        return line

    def _finish(self, st: _Stream) -> None:
        """The open line's newline came (or its stream ended): send it a last time, complete."""
        st.line.feed(st.decoder.decode(b"", final=True))
        st.t = time.time()
        with self.lock:
            self.changed.pop((st.pid, st.name), None)
            line = self._publish(st, is_open=False)
            self._add_pending([line], cheap_size(line))
        st.line.next_line()
        st.line = st.decoder = st.n = None
        st.raw = ""

    def _add(self, st: _Stream, raw_lines: list[bytes]) -> None:
        t = time.time()
        pid, stream, style = st.pid, st.name, st.style
        plain = not style.sgr
        with self.lock:
            output = self.outputs.get(pid)
            if output is None:
                return
            new = []
            added = 0
            for raw in raw_lines:
                raw = raw[:MAX_LINE]
                text = raw.decode("utf-8", "replace").rstrip("\r")
                if plain and text.isprintable():  # the usual case: as printed
                    n = output.add(stream, text, text, None, False, t, len(raw) + LINE_COST)
                    new.append({"pid": pid, "n": n, "t": t, "stream": stream, "text": text, "rendered": text})
                    added += 2 * len(text) + LINE_JSON
                    continue
                rendered, styles, _ = render_line(text, style)
                plain = not style.sgr
                cost = len(raw) + len(rendered) + LINE_COST + (40 * len(styles) if styles else 0)
                n = output.add(stream, text, rendered, styles, False, t, cost)
                line = {"pid": pid, "n": n, "t": t, "stream": stream, "text": text, "rendered": rendered}
                if styles:
                    line["styles"] = styles
                new.append(line)
                added += cheap_size(line)
            self._add_pending(new, added)
            if len(new) > RECENT_LINES:
                new = new[-RECENT_LINES:]
                added = sum(cheap_size(line) for line in new)
            self._add_recent(new, added)

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
