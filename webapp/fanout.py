"""FrameFanout: one thread that writes each encoded frame to every client it is meant for.

The registry (clients.py) encodes and frames each event once; what is left per client is
the socket write, :meth:`~webapp.serving.WholeFrameSocket.offer`: a lock and a system call,
never waiting for a slow client (its frames stay in its socket's backlog for its own writer
thread). Before, each client's Engine.IO queue woke that client's writer thread, which
framed the same text again (wsproto copies it): with 50 clients, 50 thread switches and 50
encodes a batch, and a push's p99 five times one client's.

For more than a few clients the writes are done on a thread of their own rather than on
the one that broadcasts, because that one is the agents' listener, which runs at a lower
CPU priority than the watched program (``lower_priority``): on a busy machine it was
preempted for milliseconds in the middle of a 50-client fan-out. This thread has the
default priority, as the writer threads it replaces had. For a few clients, handing the
frame over would cost more (a thread switch per batch) than the writes: they are done on
the broadcasting thread, once nothing queued before is left to write. Either way, frames
go out to every client in the order they were put.
"""

from __future__ import annotations

import logging
import queue
import threading

from .framesocket import WholeFrameSocket

logger = logging.getLogger(__name__)

# Up to this many clients, a frame is written on the broadcasting thread (if nothing is
# queued before it): handing it to the fan-out thread costs a thread switch, more than a few writes.
INLINE = 4


def _offer(frame: tuple[bytes, ...], targets: list[WholeFrameSocket]) -> None:
    for target in targets:
        try:
            target.offer(*frame)
        except Exception:  # one client's socket must not stop the others'
            logger.exception("writing to a client failed")


class FrameFanout:
    """Writes frames to sockets in the order :meth:`put` was called, for few clients on the
    caller's thread, for more on its own. Calls to ``put`` must not overlap (the registry
    makes them under its ``send_lock``)."""

    def __init__(self, inline: int = INLINE) -> None:
        self.inline = inline
        self._queue: queue.SimpleQueue[tuple[tuple[bytes, ...], list[WholeFrameSocket]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._pending = 0  # frames put in the queue and not yet written by its thread
        self._thread = threading.Thread(target=self._run, name="mpscope-fanout", daemon=True)
        self._thread.start()

    def put(self, frame: tuple[bytes, ...], targets: list[WholeFrameSocket]) -> None:
        """Offer ``frame`` (a frame's parts, see ``text_frame``) to each of ``targets``: now, or soon."""
        with self._lock:
            # in order: only once everything queued before is written
            inline = len(targets) <= self.inline and not self._pending
            if not inline:
                self._pending += 1
        if inline:
            _offer(frame, targets)
        else:
            self._queue.put((frame, targets))

    def _run(self) -> None:
        get = self._queue.get
        while (item := get()) is not None:
            _offer(*item)
            with self._lock:
                self._pending -= 1

    def close(self, timeout: float = 2.0) -> None:
        """Write what was put, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
