"""TerminalRelay: copies a watched program's stdout/stderr pipes to our own terminal, whole lines at a time.

With ``echo`` (``mpscope run``: the program's output is also ours) the listener's selector
thread reads each stream's pipe and hands what came to :meth:`TerminalRelay.copy`: byte for
byte into a pipe that the dashboard's OutputCapture reads line by line, and to our fd 1 or 2.
"""

from __future__ import annotations

import logging
import os
import selectors
import threading
import time

from ..pipe_reader import read_pipe

logger = logging.getLogger(__name__)

TERMINAL_FD = {"stdout": 1, "stderr": 2}
# A line-buffered print() writes each argument on its own: the terminal gets whole lines, so
# that processes printing at once do not mix words; a partial line (a prompt) waits this long.
PARTIAL_LINE_DELAY = 0.05


class TerminalRelay:
    """Copies the program's streams to our terminal: each one's unfinished line, which have not ended.

    Its pipes are registered in the listener's ``selector`` as ``("relay", (name, write_end, pid))``;
    only the listener's thread calls :meth:`take_streams`, :meth:`copy` and :meth:`flush_partial_lines`.
    Without ``echo`` nothing is relayed: the page reads the program's pipes themselves.
    """

    def __init__(self, selector: selectors.BaseSelector, echo: bool) -> None:
        self.selector = selector
        self.echo = echo
        self.partial: dict[int, tuple[bytes, float]] = {}  # relayed fd -> (unfinished line, since)
        self.terminal_of: dict[int, int] = {}  # relayed fd -> our fd 1 or 2
        self.open_streams: dict[int, int] = {}  # PID -> its output pipes not yet at EOF
        self.streams_closed = threading.Condition()

    def take_streams(self, pid: int, names: list, fds: list[int]) -> dict[str, int]:
        """The pipes the page reads process ``pid``'s streams from, by name, given a hello's
        ``streams`` and the descriptors it brought (ours now: those of no stream are closed)."""
        relays = {}
        for name, fd in zip(names, fds, strict=False):
            if name not in TERMINAL_FD:
                os.close(fd)
            else:
                relays[name] = self._relay(pid, name, fd) if self.echo else fd
        for fd in fds[len(names) :]:
            os.close(fd)
        return relays

    def _relay(self, pid: int, name: str, fd: int) -> int:
        """Copy stream ``name`` (``fd``) to the terminal; return the pipe the page reads it from
        (``fd`` itself if no pipe could be made)."""
        try:
            read_end, write_end = os.pipe()
        except OSError:  # out of descriptors: the page still gets this stream, the terminal not
            logger.warning("too many open files: PID %d's %s goes to the page only", pid, name)
            return fd
        os.set_blocking(fd, False)
        self.selector.register(fd, selectors.EVENT_READ, ("relay", (name, write_end, pid)))
        with self.streams_closed:
            self.open_streams[pid] = self.open_streams.get(pid, 0) + 1
        return read_end

    def wait_output(self, pid: int | None = None, timeout: float = 1.0) -> bool:
        """Wait until ``pid``'s output pipes (all, if None) reached EOF and were copied out."""
        with self.streams_closed:
            return self.streams_closed.wait_for(
                lambda: not self.open_streams.get(pid) if pid is not None else not self.open_streams, timeout
            )

    def due(self) -> list[float]:
        """When each unfinished line waiting for its newline is to be written out anyway."""
        return [since + PARTIAL_LINE_DELAY for _, since in self.partial.values()]

    def copy(self, fd: int, name: str, write_end: int, pid: int) -> None:
        """Copy what relayed pipe ``fd`` holds to the page's pipe and to the terminal (whole lines)."""
        data = read_pipe(fd)
        if data is None:
            return
        terminal = TERMINAL_FD[name]
        if not data:
            self.flush_partial_lines(fd=fd, terminal=terminal)
            self.selector.unregister(fd)
            os.close(fd)
            os.close(write_end)
            with self.streams_closed:
                self.open_streams[pid] -= 1
                if not self.open_streams[pid]:
                    del self.open_streams[pid]
                self.streams_closed.notify_all()
            return
        _write_all(write_end, data)  # the page's reader splits lines itself
        unfinished, since = self.partial.pop(fd, (b"", time.monotonic()))
        data = unfinished + data
        cut = data.rfind(b"\n") + 1
        _write_all(terminal, data[:cut])
        if cut < len(data):
            self.partial[fd] = (data[cut:], since if unfinished else time.monotonic())
        self.terminal_of[fd] = terminal

    def flush_partial_lines(
        self, older_than: float = float("inf"), fd: int | None = None, terminal: int = 1
    ) -> None:
        """Write out unfinished lines that waited long enough (or ``fd``'s, at its EOF)."""
        if fd is not None:
            if fd in self.partial:
                _write_all(terminal, self.partial.pop(fd)[0])
            self.terminal_of.pop(fd, None)
            return
        for waiting, (unfinished, since) in list(self.partial.items()):
            if since <= older_than:
                del self.partial[waiting]
                _write_all(self.terminal_of.get(waiting, 1), unfinished)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError:
            return  # a closed terminal or reader: the page keeps what it got
