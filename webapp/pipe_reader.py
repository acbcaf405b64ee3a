"""PipeReadAhead: reads many non-blocking pipes into memory ahead of their parsing.

A worker printing flat out writes faster than lines can be split and kept, and a pipe
holds 64 KiB: it waited on us (a 200,000-line printer took ~4x as long as printing to a
file). So the pipes are read ahead of the parsing, into memory, up to ``READ_AHEAD`` bytes in
all (then the pipes fill and the writers wait, as before), and handed out ``SLICE`` bytes at
a time between reads; the pipe of a stream that brought ``GROW_AFTER`` bytes is grown to
``PIPE_SIZE`` (a few at once at most: the kernel counts pipe memory per user) so that it
holds what comes while a slice is parsed or a batch is sent. The bytes are the same, in
the same order.
"""

from __future__ import annotations

import collections
import fcntl
import os
import selectors
from collections.abc import Hashable

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


class _Pipe:
    """What one stream's pipe brought and was not handed out yet."""

    __slots__ = ("chunks", "eof", "grown", "read")

    def __init__(self) -> None:
        self.chunks: collections.deque[bytes] = collections.deque()  # read, not handed out yet
        self.eof = False  # the pipe ended (what is in chunks is its last output)
        self.grown = False  # its pipe was grown to PIPE_SIZE
        self.read = 0  # bytes read from its pipe


class PipeReadAhead:
    """The pipes of every stream, each under its ``key``, read by the thread that calls :meth:`wait`."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.pipes: dict[Hashable, _Pipe] = {}  # every stream read, by key
        self.behind: dict[Hashable, _Pipe] = {}  # streams with chunks read, not handed out
        self.ahead = 0  # bytes in all those chunks
        self.paused: dict[int, Hashable] = {}  # fds left unread while READ_AHEAD is full
        self.grown = 0  # pipes grown to PIPE_SIZE, open
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)

    def add(self, fd: int, key: Hashable) -> None:
        """Read pipe ``fd`` (ours now: closed at its end) as stream ``key``; call :meth:`wake` after."""
        os.set_blocking(fd, False)
        self.selector.register(fd, selectors.EVENT_READ, key)

    def wake(self) -> None:
        """End the reading thread's current :meth:`wait` (from another thread)."""
        try:
            os.write(self.wake_w, b"x")
        except BlockingIOError:
            pass

    def wait(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` (none while slices are left) and read what the pipes hold."""
        for key, _ in self.selector.select(0 if self.behind else timeout):
            if key.data is None:
                os.read(self.wake_r, 4096)
            else:
                self._read(key.fd, key.data)

    def _read(self, fd: int, key: Hashable) -> None:
        """Read what the pipe holds into the stream's chunks (handed out later, in slices)."""
        pipe = self.pipes.get(key)
        if pipe is None:
            pipe = self.pipes[key] = _Pipe()
        while self.ahead < READ_AHEAD:
            data = read_pipe(fd)
            if data is None:
                return
            if not data:  # EOF: the worker closed this stream (it exited)
                self.selector.unregister(fd)
                os.close(fd)
                if pipe.grown:
                    self.grown -= 1
                pipe.eof = True
                self.behind[key] = pipe
                return
            pipe.read += len(data)
            if pipe.read >= GROW_AFTER and not pipe.grown:
                self._grow(pipe, fd)  # a flood: it would wait for us at each 64 KiB
            pipe.chunks.append(data)
            self.ahead += len(data)
            self.behind[key] = pipe
        self.selector.unregister(fd)  # READ_AHEAD is full: its writer waits, as on a full pipe
        self.paused[fd] = key

    def _grow(self, pipe: _Pipe, fd: int) -> None:
        size = getattr(fcntl, "F_SETPIPE_SZ", None)
        if size is None or self.grown >= GROWN_MAX:
            return
        try:
            fcntl.fcntl(fd, size, PIPE_SIZE)
        except OSError:  # over the user's pipe memory: it stays as it is
            return
        pipe.grown = True
        self.grown += 1

    def slices(self) -> list[tuple[Hashable, bytes, bool]]:
        """Up to SLICE bytes of each stream read ahead, as ``(key, data, ended)`` (``ended``: that
        was the last of it, its pipe ended); the pipes left unread resume once half is free."""
        out = []
        for key, pipe in list(self.behind.items()):
            data = b""
            if pipe.chunks:
                data = pipe.chunks.popleft()
                if len(data) > SLICE:
                    pipe.chunks.appendleft(data[SLICE:])
                    data = data[:SLICE]
                self.ahead -= len(data)
            ended = False
            if not pipe.chunks:
                del self.behind[key]
                if pipe.eof:
                    del self.pipes[key]
                    ended = True
            out.append((key, data, ended))
        if self.paused and self.ahead < READ_AHEAD // 2:
            for fd, key in self.paused.items():
                self.selector.register(fd, selectors.EVENT_READ, key)
            self.paused = {}
        return out

    def close(self) -> None:
        """Close every pipe still open (the reading thread has stopped)."""
        for key in list(self.selector.get_map().values()):
            if key.data is not None:
                os.close(key.fd)
        for fd in self.paused:
            os.close(fd)
