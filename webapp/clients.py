"""ClientRegistry: the connected Socket.IO clients, and holding back the ones that lag.

Every broadcast is encoded once and queued to each client's Engine.IO socket. A client
that stops reading would make its queue grow without bound, so a client whose queue
holds more than ``high`` packets or ``high_bytes`` bytes is skipped ("lagging") until it
drains below ``low`` packets; then it is sent a fresh snapshot, which replaces
everything it missed. The byte bound matters: one busy ``changes`` message can be
~0.5 MB, so 256 of them would be over 100 MB held for a single stuck client.

Every send goes through here, one at a time (``send_lock``), and a payload may be a
callable that is evaluated inside: what is read at send time cannot be overtaken by
something older. Otherwise a snapshot built just before a worker ended could reach a
client after the ``workers`` event saying it ended, and the page, which keeps what it
received last, would show that worker running for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask_socketio import SocketIO

logger = logging.getLogger(__name__)


class ClientRegistry:
    """Tracks connected clients and broadcasts to those keeping up."""

    def __init__(
        self,
        socketio: SocketIO,
        snapshot: Callable[[], dict],
        high: int = 256,
        low: int = 16,
        high_bytes: int = 4 * 2**20,
    ) -> None:
        self.socketio = socketio
        self.snapshot = snapshot
        self.high = high
        self.low = low
        self.high_bytes = high_bytes
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.clients: dict[str, str] = {}  # sid -> Engine.IO sid
        self.lagging: set[str] = set()
        self.timer: threading.Timer | None = None

    def welcome(self, sid: str, eio_sid: str) -> None:
        """Register a new client and send it a snapshot; broadcasts to it follow from there."""
        with self.send_lock:
            with self.lock:
                self.clients[sid] = eio_sid
            self.socketio.emit("snapshot", self.snapshot(), to=sid)

    def send_snapshot(self, sid: str) -> None:
        """Send one client a fresh snapshot (it asked: it saw a gap in versions)."""
        with self.send_lock:
            self.socketio.emit("snapshot", self.snapshot(), to=sid)

    def remove(self, sid: str) -> None:
        with self.lock:
            self.clients.pop(sid, None)
            self.lagging.discard(sid)

    def count(self) -> int:
        return len(self.clients)

    def _queued(self, eio_sid: str) -> tuple[int, int]:
        """Packets and bytes waiting in one client's queue (bytes only counted past ``low``)."""
        sock = self.socketio.server.eio.sockets.get(eio_sid)
        if sock is None:
            return 0, 0
        count = sock.queue.qsize()
        if count <= self.low:
            return count, 0
        with sock.queue.mutex:  # its writer thread takes packets off concurrently
            # (a closing socket's queue also holds None, the writer's stop sentinel)
            data = [getattr(packet, "data", None) for packet in sock.queue.queue]
        size = sum(len(d) for d in data if isinstance(d, (str, bytes)))
        return count, size

    def broadcast(self, event: str, data: dict | Callable[[], Any]) -> None:
        """Send ``event`` to every client that is keeping up (``data()`` is read at send time)."""
        with self.send_lock:
            skip = self._check()
            self.socketio.emit(event, data() if callable(data) else data, skip_sid=skip)

    def _check(self) -> list[str]:
        """Update who lags, resync those that caught up; return the clients to skip.

        The caller holds ``send_lock``.
        """
        caught_up = []
        with self.lock:
            for sid, eio_sid in self.clients.items():
                queued, size = self._queued(eio_sid)
                if sid in self.lagging and queued <= self.low:
                    self.lagging.discard(sid)
                    caught_up.append(sid)
                elif sid not in self.lagging and (queued > self.high or size > self.high_bytes):
                    self.lagging.add(sid)
                    logger.info(
                        "client %s is not reading (%d messages, %d bytes queued): holding back",
                        sid,
                        queued,
                        size,
                    )
            skip = list(self.lagging)
            if self.lagging and self.timer is None:
                # nothing else may be sent for a while: look again to resync it when it drains
                self.timer = threading.Timer(0.5, self._recheck)
                self.timer.daemon = True
                self.timer.start()
        for sid in caught_up:
            self.socketio.emit("snapshot", self.snapshot(), to=sid)
        return skip

    def _recheck(self) -> None:
        with self.lock:
            self.timer = None
        with self.send_lock:
            self._check()

    def close(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
