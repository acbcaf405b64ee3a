"""Capture workers' stdout and stderr at the file-descriptor level, line by line.

Each worker's fds 1 and 2 are the write ends of pipes whose read ends are registered
here. One thread reads all of them (ahead of the parsing: :mod:`webapp.pipe_reader`),
splits lines, keeps the last ``scrollback`` lines per worker (:mod:`webapp.kept_output`,
bounded in bytes) and hands new lines to ``emit`` in batches (at most one batch per 16 ms
frame while output is busy, at once when it is not).

Each line keeps its raw ``text`` and adds the line as a terminal shows it (``rendered``,
and ``styles`` for its colours: :mod:`webapp.terminal`). A line printed in pieces is one
line: once its first piece has waited ``partial_delay`` seconds without a newline it is
sent as ``open`` (in progress), numbered as any line, and every later piece (a ``\r``
redraw of a progress bar, the next word) sends that same line again, same ``n``, at most
once per frame, until its newline comes (or the stream ends) and it is sent one last time
without ``open``.

A batch holds at most ``BATCH_BYTES`` of JSON (32 printers flat out made 13.7 MB
batches), one batch per frame: a burst is sent over a few frames.
"""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Callable

from .kept_output import ENDED_BUDGET, RECENT_LINES, KeptOutput
from .pipe_reader import PipeReadAhead
from .scrollback import LINE_COST, LINE_JSON, WorkerOutput, cheap_size, line_message, line_size
from .terminal import LineRenderer, Style, render_line

FRAME = 0.016
MAX_LINE = 10_000
BATCH_BYTES = 256 * 1024  # JSON bytes of lines in one ``output`` message at most


class _Stream:
    """One stream of one worker: the line it is printing, and its terminal style."""

    __slots__ = ("pid", "name", "buffered", "since", "style", "line", "decoder", "raw", "n", "t", "sent")

    def __init__(self, pid: int, name: str) -> None:
        self.pid, self.name = pid, name
        self.buffered = b""  # the start of a line not shown yet
        self.since = 0.0  # when it started waiting
        self.style = Style()  # SGR state: it carries over from line to line, as on a terminal
        self.line: LineRenderer | None = None  # the line shown as open, if any
        self.decoder: codecs.IncrementalDecoder | None = None
        self.raw = ""  # the open line's raw text
        self.n: int | None = None  # the open line's number
        self.t = 0.0  # when it last changed
        self.sent = False  # the open line was sent (and is among the recent lines)


class OutputCapture(KeptOutput):
    """Reads every worker's output pipes in one thread and keeps bounded scrollback."""

    def __init__(
        self,
        emit: Callable[[list[dict], int], None],
        scrollback: int = 2000,
        partial_delay: float = 0.1,
        ended_budget: int = ENDED_BUDGET,
    ) -> None:
        super().__init__(scrollback, ended_budget)
        self.emit = emit
        self.partial_delay = partial_delay
        self.streams: dict[tuple[int, str], _Stream] = {}  # every stream read, by (pid, name)
        self.changed: dict[tuple[int, str], _Stream] = {}  # open lines to send again
        self.waiting: dict[tuple[int, str], _Stream] = {}  # the starts of lines not shown yet
        self.last_emit = 0.0
        self.pipes = PipeReadAhead()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="mpscope-output", daemon=True)
        self.thread.start()

    def attach(self, pid: int, streams: dict[str, int]) -> None:
        """Start reading ``{"stdout": fd, "stderr": fd}`` for worker ``pid``; we own the fds."""
        with self.lock:
            output = self.outputs.setdefault(pid, WorkerOutput(self.scrollback))
            for stream, fd in streams.items():
                self.pipes.add(fd, (pid, stream))
                output.open_streams += 1
        self.pipes.wake()

    def close(self) -> None:
        self.stopping = True
        self.pipes.wake()
        self.thread.join(2)

    def _run(self) -> None:
        while not self.stopping:
            now = time.monotonic()
            deadlines = [st.since + self.partial_delay for st in self.waiting.values()]
            if self.pending or self.changed:
                deadlines.append(self.last_emit + FRAME)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            self.pipes.wait(timeout)
            if self.pipes.behind:
                self._parse_some()
            self._show_waiting()
            if (self.pending or self.changed) and time.monotonic() - self.last_emit >= FRAME:
                self.last_emit = time.monotonic()
                self.emit(*self._next_batch())
        self.pipes.close()

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

    def _parse_some(self) -> None:
        """Parse a slice of each stream read ahead; finish the streams whose pipe ended."""
        for key, data, ended in self.pipes.slices():
            st = self.streams.get(key)
            if st is None:
                st = self.streams[key] = _Stream(*key)
            if data:
                self._parse(st, key, data)
            if ended:
                self._ended(st, key)

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
