"""WholeFrameSocket: a served websocket's connection, written a whole frame at a time.

Two kinds of writer use it. simple-websocket and Engine.IO's writer thread call ``send``,
which waits until the frame is written. The registry's fan-out calls ``offer``, which never
waits: what the socket has no room for stays in the connection's backlog, in order, for
its writer thread (see webapp/fanout.py). Frames never interleave.
"""

from __future__ import annotations

import collections
import select
import socket
import threading
from collections.abc import Callable
from typing import Any


class WholeFrameSocket:
    """An upgraded connection as simple-websocket sees it, except that ``send`` writes everything.

    On a socket with a timeout (ours: ``WEBSOCKET_TIMEOUT``) ``socket.send`` writes what
    fits in the kernel's buffer and returns the count, which simple-websocket ignores: the
    rest of any message over a few MB was dropped, the peer got a frame cut in the middle
    with the next frame after it, and the official Python client disconnected. Two threads
    send on one websocket (Engine.IO's writer sends messages, simple-websocket's reader
    answers pings and closes), so a whole write is also done under a lock: frames never
    interleave. A peer that takes nothing for the timeout is cut off (the socket is shut
    down), never left with half a frame and more after it.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._send_lock = threading.Lock()
        self._broken = False
        # Frames handed over by offer() and not written yet, in order (the first maybe in
        # part): the one queue that orders a client's snapshots and broadcasts (see offer)
        self._out: collections.deque[tuple[memoryview, bool]] = collections.deque()  # (part, ends a frame)
        self._out_lock = threading.Lock()
        self._out_bytes = 0
        self._out_frames = 0
        self._held = True  # until the Engine.IO OPEN packet is written (release)
        self.wake_writer: Callable[[], None] | None = None  # has the writer thread call flush()
        self._woken = False
        self._room: select.poll | None = None  # whether the socket takes more now

    def send(self, data: bytes, *more: bytes) -> int:
        """Write all of ``data`` (then each of ``more``, as one frame) or raise (and cut the
        connection off); return the length written. Frames offered before go first."""
        with self._send_lock:
            if self._broken:
                raise BrokenPipeError("the connection was cut off by an earlier failed send")
            try:
                self._write_out(block=True)
                for part in (data, *more):
                    view = memoryview(part)
                    while view:
                        view = view[self._sock.send(view) :]
            except OSError:
                self._cut()
                raise
        self._try_write()  # what was offered while we wrote
        return len(data) + sum(map(len, more))

    sendall = send

    # -- offered frames: written by whoever hands them over, without waiting ------------
    def offer(self, *parts: bytes) -> bool:
        """Queue one whole frame (``parts`` written one after another) after every frame
        offered before it, and write what the socket takes now, in this thread, without
        ever waiting for it; the rest is written by the connection's writer thread
        (``wake_writer``). False if the connection was cut off (the frame is dropped).

        The fan-out path: a broadcast costs each client a lock and a system call, not a
        thread switch and an encode (clients.py); a stuck client's frames stay here,
        counted by :meth:`backlog`, until the registry stops offering it any.
        """
        if self._broken:
            return False
        if len(parts) == 1 and not self._out and not self._held and self._send_lock.acquire(blocking=False):
            # the usual case, a small frame and nothing waiting: written now, past the backlog
            try:
                frame = parts[0]
                written = 0 if self._out or self._broken else self._write_now(frame)
                if written < len(frame) and not self._broken:
                    # the rest goes first: anything offered meanwhile came after it
                    with self._out_lock:
                        self._out.appendleft((memoryview(frame)[written:], True))
                        self._out_bytes += len(frame) - written
                        self._out_frames += 1
            except OSError:
                self._cut()
            finally:
                self._send_lock.release()
            self._try_write()  # what was offered meanwhile, or the rest once there is room
            return not self._broken
        last = len(parts) - 1
        with self._out_lock:
            self._out.extend((memoryview(part), i == last) for i, part in enumerate(parts))
            self._out_bytes += sum(map(len, parts))
            self._out_frames += 1
        if last and self.wake_writer is not None:
            # A frame in parts is a big one (a snapshot): the connection's writer thread writes
            # it. Written here, the megabytes the socket took now held up the caller, which
            # holds the registry's send lock: every push to every client waited for it.
            self._hand_over()
        else:
            self._try_write()
        return True

    def backlog(self) -> tuple[int, int]:
        """Offered frames and bytes not written (whole) yet."""
        return self._out_frames, self._out_bytes

    def release(self) -> None:
        """The Engine.IO OPEN packet is written: offered frames may follow it now."""
        self._held = False
        self._try_write()

    def flush(self) -> None:
        """Write every offered frame, waiting for the socket as ``send`` does (the writer thread)."""
        self._woken = False
        with self._send_lock:
            if not self._broken:
                try:
                    self._write_out(block=True)
                except OSError:
                    self._cut()
        self._try_write()

    def _hand_over(self) -> None:
        """Have the writer thread write what is offered (it calls flush)."""
        if not self._woken:
            self._woken = True
            self.wake_writer()

    def _try_write(self) -> None:
        # Whoever appends then tries the lock; a holder that ends tries again after
        # releasing it: no frame is left unwritten while nobody holds the lock. Once the
        # writer thread is woken it writes everything offered, this too (flush).
        if self._woken:
            return
        while self._out and not self._held and self._send_lock.acquire(blocking=False):
            try:
                if self._broken:  # closed or cut off: nothing offered is written any more
                    with self._out_lock:
                        self._out.clear()
                        self._out_bytes = self._out_frames = 0
                    return
                full = self._write_out(block=False)
            except OSError:
                self._cut()
                full = False
            finally:
                self._send_lock.release()
            if full:  # the socket takes no more now: its writer thread waits for it
                if self.wake_writer is not None:
                    self._hand_over()
                return

    def _write_out(self, block: bool) -> bool:
        """Write offered frames (the caller holds ``_send_lock``); True if the socket is full."""
        if self._held:
            return False
        while True:
            with self._out_lock:
                if not self._out:
                    return False
                view, last = self._out[0]
            if block:
                written = self._sock.send(view)
            else:
                written = self._write_now(view)
                if not written:
                    return True
            with self._out_lock:
                if written == len(view):
                    self._out.popleft()
                    self._out_frames -= last
                else:
                    self._out[0] = (view[written:], last)
                self._out_bytes -= written
            if written < len(view) and not block:
                return True

    def _write_now(self, data: bytes | memoryview) -> int:
        """Write what the socket takes of ``data`` now, without waiting (the caller holds
        ``_send_lock``); return how much that was."""
        # On a socket with a timeout, send() first waits for room: asked first, it does not
        # (only we write to it, under the lock: the room it has now stays)
        if self._room is None:
            self._room = select.poll()
            self._room.register(self._sock, select.POLLOUT)
        if not self._room.poll(0):
            return 0
        try:
            return self._sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return 0

    def _cut(self) -> None:
        """A send failed: the connection is gone (shut down, never left with half a frame)."""
        self._broken = True
        with self._out_lock:
            self._out.clear()
            self._out_bytes = self._out_frames = 0
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def close(self) -> None:
        """Closed by simple-websocket: nothing offered is written from now on (a descriptor
        number is soon another connection's)."""
        self._broken = True
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
