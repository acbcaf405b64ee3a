"""A worker's task events, kept where the dashboard can read them even if the worker dies.

A pool worker says which task it took before running it, and how it ended after: two
events per task, 200,000 for a program of 100,000 tiny tasks. Written to the socket one by
one, they were most of what watching cost such a program (a ``sendall`` and an ``fstat``
each: the workers' CPU tripled). Kept in the process's memory for the writer thread, the
last of them died with a worker that crashed in its task, and nobody could name the task
it lost. So they go into a ring in a shared file mapping in the run's private directory
(``tasks-PID``): no system call, ~1 µs an event. The channel's writer thread sends what is
new, many events per write; if the process dies first, the dashboard reads what it was not
sent from the file once the connection closed (:func:`unsent`). An event the file cannot
take (no file, or a line longer than half the ring) is sent at once, as before.
"""

from __future__ import annotations

import _thread
import mmap
import os
import struct

# the header: bytes ever written into the ring, and bytes ever written out to the socket
HEADER = struct.Struct("=QQ")
SIZE = 1 << 20  # the ring (~7,000 events): a writer thread that far behind has the adder write
NAME = "tasks-{pid}"


def path_of(directory: str, pid: int) -> str:
    return os.path.join(directory, NAME.format(pid=pid))


class TaskLog:
    """This process's task events on their way to the socket (``add``), from any thread."""

    def __init__(self, channel) -> None:
        self.channel = channel
        self._forked()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.lock = _thread.allocate_lock()
        self.ring = None  # mapped at the first event: a process that runs no task has no file
        self.broken = False  # the file could not be made: events are sent at once
        self.written = self.taken = self.sent = 0
        self.queued = False  # in the channel's deferred queue (its writer will call ``take``)

    def add(self, line: bytes) -> None:
        """One event's line (``protocol.line``'s form)."""
        n = len(line)
        if not n:
            return
        with self.lock:
            if self.ring is None and not self.broken:
                self._open()
            ring = self.ring
            fits = ring is not None and n <= SIZE // 2
            if fits:
                written = self.written
                full = written + n - self.sent > SIZE
                if not full:  # copied in, then counted: a reader never sees half a line
                    start = HEADER.size + written % SIZE
                    first = min(n, HEADER.size + SIZE - start)
                    ring[start : start + first] = line[:first] if first < n else line
                    if first < n:  # wrapped round
                        ring[HEADER.size : HEADER.size + n - first] = line[first:]
                    self.written = written = written + n
                    HEADER.pack_into(ring, 0, written, self.sent)
                    queue, self.queued = not self.queued, True
        if not fits:
            self.channel.flush()  # what the ring holds goes first: the order is kept
            self.channel.send_line(line)
            return
        if full:  # the dashboard is that far behind: write it out here (as a line per event would)
            self.channel.flush()
            self.add(line)
        elif queue:
            self.channel.send_line(self, defer=True)

    def take(self) -> bytes:
        """What was added since the last take, as one ``tasks`` line (parsed at once, not an
        event at a time): called by the channel's writer, which then writes it and calls
        :meth:`wrote`."""
        with self.lock:
            self.queued = False
            if self.ring is None or self.taken == self.written:
                return b""
            data = _read(self.ring, self.taken, self.written)
            self.taken = self.written
        # JSON lines hold no raw newline: the events become the items of one array
        return b'{"t":"tasks","events":[' + data[:-1].replace(b"\n", b",") + b"]}\n"

    def wrote(self) -> None:
        """What was taken is on the socket: the dashboard need not read it from the file."""
        with self.lock:
            if self.ring is not None:
                self.sent = self.taken
                HEADER.pack_into(self.ring, 0, self.written, self.sent)

    def _open(self) -> None:
        try:
            path = path_of(self.channel.directory, os.getpid())
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            self.broken = True
            return
        try:
            os.ftruncate(fd, HEADER.size + SIZE)
            self.ring = mmap.mmap(fd, HEADER.size + SIZE)
        except (OSError, ValueError):
            self.broken = True
        finally:
            os.close(fd)


def _read(ring, start: int, end: int) -> bytes:
    """Bytes ``start`` to ``end`` (ever-growing counts) of the ring."""
    if end - start > SIZE:  # cannot be, unless the file was tampered with: nothing to trust
        return b""
    first, last = HEADER.size + start % SIZE, HEADER.size + end % SIZE
    if end == start:
        return b""
    if first < last:
        return ring[first:last]
    return ring[first : HEADER.size + SIZE] + ring[HEADER.size : last]


def unsent(directory: str, pid: int) -> list[bytes]:
    """The lines process ``pid`` added but had not sent when its connection closed (its
    last events, if it died), and the file removed. The last sent batch may come again."""
    path = path_of(directory, pid)
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER.size + SIZE)
        os.unlink(path)
    except OSError:
        return []
    if len(data) < HEADER.size + SIZE:
        return []
    written, sent = HEADER.unpack_from(data, 0)
    if sent > written:
        return []
    return [line for line in _read(data, sent, written).split(b"\n") if line]
