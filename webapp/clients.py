"""ClientRegistry: the connected Socket.IO clients, their snapshots, and holding back the ones that lag.

Every broadcast is encoded and framed once, and the same bytes are written to each
websocket client by one thread (:class:`~webapp.fanout.FrameFanout`; what a client's socket
has no room for waits in its backlog, ``WholeFrameSocket.offer``); a long-polling client
is sent it through its Engine.IO queue. A client that stops reading would make its backlog
grow without bound, so a client whose queue
holds more than ``high`` packets or ``high_bytes`` bytes is skipped ("lagging") until it
drains below ``low`` packets; then it is sent a fresh snapshot, which replaces
everything it missed. The byte bound matters: one busy ``changes`` message can be
~0.5 MB, so 256 of them would be over 100 MB held for a single stuck client.

Every send goes through here, one at a time (``send_lock``), and a payload may be a
callable that is evaluated inside: what is read at send time cannot be overtaken by
something older. Otherwise a snapshot built just before a worker ended could reach a
client after the ``workers`` event saying it ended, and the page, which keeps what it
received last, would show that worker running for good.

Snapshots are the exception to "read inside": the state's part is built outside
``send_lock`` (once per version, shared: :class:`SnapshotCache`), and sent together with
the ``changes`` broadcast since it was built, so it is as current as anything sent after
it. A client asks for one with ``resync``: requests are coalesced per client and served
by one thread, at most one snapshot per client per ``resync_interval``; until its
snapshot is sent, a client is sent nothing else (it could not use it).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask_socketio import SocketIO

from .fanout import FrameFanout
from .rawjson import RawJSON
from .rawjson import dumps as wire_dumps
from .serving import frames_of, send_parts, text_frame
from .snapshots import ChangeHistory, EncodedSnapshot, SnapshotCache

logger = logging.getLogger(__name__)

# What we broadcast is built by us (values encoded by sharedstate.encoding) and has no
# cycles: not checking for them is ~10% of encoding a busy program's changes.
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
RESYNC_INTERVAL = 0.5  # seconds: at most one snapshot per client this often
STALE_BUILDS = 3  # snapshots built and found too old before one is sent anyway
# A Socket.IO EVENT packet (type 2) on the default namespace, up to its argument
SNAPSHOT_EVENT = b'2["snapshot",'


@functools.lru_cache(maxsize=64)
def _event_head(event: str) -> bytes:
    """``42["event",``: an Engine.IO MESSAGE holding a Socket.IO EVENT, up to its argument."""
    return f"42[{json.dumps(event)},".encode()


class ClientRegistry:
    """Tracks connected clients, sends them snapshots, and broadcasts to those keeping up."""

    def __init__(
        self,
        socketio: SocketIO,
        cache: SnapshotCache,
        snapshot_fields: Callable[[], dict],
        high: int = 256,
        low: int = 16,
        high_bytes: int = 4 * 2**20,
        resync_interval: float = RESYNC_INTERVAL,
    ) -> None:
        self.socketio = socketio
        self.cache = cache
        self.snapshot_fields = snapshot_fields
        self.high = high
        self.low = low
        self.high_bytes = high_bytes
        self.resync_interval = resync_interval
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.clients: dict[str, str] = {}  # sid -> Engine.IO sid
        self.lagging: set[str] = set()
        self.awaiting: dict[str, float] = {}  # sid -> when its snapshot may be sent
        self.joining: set[str] = set()  # connecting: its first snapshot is being built
        self.last_snapshot: dict[str, float] = {}  # sid -> when it was last sent one
        self.history = ChangeHistory()
        # every broadcast is also handed here first, as it is sent (a recording: webapp/recording)
        self.tap: Callable[[str, Any, str | None], None] | None = None
        self.timer: threading.Timer | None = None
        self.wake = threading.Condition(self.lock)
        self.closing = False
        self.fanout = FrameFanout()  # every frame to a websocket client, in order
        self.sender = threading.Thread(target=self._send_due, name="mpscope-snapshots", daemon=True)
        self.sender.start()

    # -- snapshots -------------------------------------------------------------
    def welcome(self, sid: str, eio_sid: str) -> None:
        """Register a new client and send it a snapshot; broadcasts to it follow from there."""
        # Socket.IO already counts it in: broadcasts sent while its snapshot is built would
        # reach it first, which it cannot use (the page would ask for another snapshot)
        with self.lock:
            self.joining.add(sid)
        try:
            self._send_snapshot([sid], register={sid: eio_sid})
        finally:
            with self.lock:
                self.joining.discard(sid)

    def request_snapshot(self, sid: str) -> None:
        """Send one client a fresh snapshot soon (it saw a gap in versions); repeats coalesce."""
        with self.lock:
            if sid not in self.clients:
                return
            due = max(time.monotonic(), self.last_snapshot.get(sid, 0.0) + self.resync_interval)
            self.awaiting[sid] = min(due, self.awaiting.get(sid, due))
            self.wake.notify()

    def resync_all(self) -> None:
        """The state was reloaded: send every client a fresh snapshot now."""
        self.cache.invalidate()
        with self.send_lock, self.lock:
            self.history.clear()
            now = time.monotonic()
            for sid in self.clients:
                self.awaiting[sid] = now
            self.wake.notify()

    def _send_due(self) -> None:
        """The snapshot thread: send each waiting client its snapshot once it is due."""
        while True:
            with self.lock:
                while not self.closing:
                    now = time.monotonic()
                    due = [sid for sid, at in self.awaiting.items() if at <= now]
                    if due:
                        break
                    self.wake.wait(min(self.awaiting.values()) - now if self.awaiting else None)
                if self.closing:
                    return
            try:
                self._send_snapshot(due)
            except Exception:
                logger.exception("sending snapshots failed")

    def _send_snapshot(self, sids: list[str], register: dict[str, str] | None = None) -> None:
        """Build (or reuse) the snapshot outside ``send_lock``, then send it and what it lacks."""
        for attempt in range(STALE_BUILDS):
            snap = self.cache.get()
            with self.send_lock:
                missed = self.history.since(snap.version)
                if (not self.cache.is_current(snap) or missed is None) and attempt < STALE_BUILDS - 1:
                    continue  # reloaded, or changes sent since are no longer kept: build again
                # (past that, send it anyway: a client that sees a gap asks again)
                with self.lock:
                    if register:  # unless it left meanwhile (remove() took it off joining)
                        self.clients.update({s: e for s, e in register.items() if s in self.joining})
                        self.joining.difference_update(register)
                    targets = [s for s in sids if s in self.clients and s not in self.lagging]
                    now = time.monotonic()
                    for sid in sids:
                        self.awaiting.pop(sid, None)
                    for sid in targets:
                        self.last_snapshot[sid] = now
                if targets:
                    self._emit_snapshot(snap, targets)
                    if missed:  # the same way as broadcasts: in order with those after it
                        self._send("changes", missed, targets)
                return

    def _emit_snapshot(self, snap: EncodedSnapshot, targets: list[str]) -> None:
        """Send ``snap`` to each target: its bytes as they are on a websocket (see serving)."""
        fields = self.snapshot_fields()
        parts = (SNAPSHOT_EVENT + snap.head(fields), *snap.socket_members, b"]")
        eio = self.socketio.server.eio
        direct, polling = [], []
        for sid in targets:
            eio_sid = self.clients.get(sid)  # None: it left since (remove() does not wait for us)
            if eio_sid is None:
                continue
            if (frames := frames_of(eio, eio_sid)) is not None:
                direct.append(frames)  # in order with the broadcasts after it (see _send)
            elif not send_parts(eio, eio_sid, parts):
                polling.append(sid)
        if direct:
            self.fanout.put(text_frame(b"4", *parts), direct)
        if polling:
            self.socketio.emit("snapshot", snap.with_fields(fields), to=polling)

    # -- clients ---------------------------------------------------------------
    def remove(self, sid: str) -> None:
        with self.lock:
            self.clients.pop(sid, None)
            self.joining.discard(sid)
            self.lagging.discard(sid)
            self.awaiting.pop(sid, None)
            self.last_snapshot.pop(sid, None)

    def count(self) -> int:
        return len(self.clients)

    def watching(self) -> bool:
        """Whether any client is connected or joining (changes are worth replaying now)."""
        return bool(self.clients or self.joining)

    def _queued(self, eio_sid: str) -> tuple[int, int]:
        """Packets and bytes waiting in one client's queue (bytes only counted past ``low``)."""
        sock = self.socketio.server.eio.sockets.get(eio_sid)
        if sock is None:
            return 0, 0
        frames = getattr(sock, "mpscope_frames", None)
        if frames is not None:  # what it is sent waits there (its queue holds pings at most)
            count, size = frames.backlog()
            return count, size if count > self.low else 0
        count = sock.queue.qsize()
        if count <= self.low:
            return count, 0
        with sock.queue.mutex:  # its writer thread takes packets off concurrently
            # (a closing socket's queue also holds None, the writer's stop sentinel)
            data = [getattr(packet, "data", None) for packet in sock.queue.queue]
        size = sum(len(d) for d in data if isinstance(d, (str, bytes)))
        return count, size

    # -- broadcasts ------------------------------------------------------------
    def broadcast(self, event: str, data: dict | Callable[[], Any]) -> None:
        """Send ``event`` to every client that is keeping up (``data()`` is read at send time)."""
        tap = self.tap
        if not self.clients:
            with self.send_lock:
                nobody = not self.clients  # nobody to send it to (a joining client is sent history)
                if nobody and event == "changes":
                    self.history.add(data)
            if nobody:
                if tap is not None:
                    tap(event, data, None)
                return
        # encoded before taking the lock every send waits for (a callable is read inside it)
        encoded = None if callable(data) else RawJSON(_encode(data))
        if tap is not None:
            tap(event, data, encoded)  # a recording keeps the text the clients are sent
        with self.send_lock:
            skip = self._check()
            if encoded is None:
                encoded = data()
            elif event == "changes":
                self.history.add(data)
            self._send(event, encoded, [sid for sid in list(self.clients) if sid not in skip])

    def _send(self, event: str, data: Any, sids: list[str]) -> None:
        """Send one event to ``sids``: encoded and framed once, the same bytes written to each
        websocket client by one thread (FrameFanout: a lock and a system call per client, no
        encode); the others (long-polling, or upgraded from it) through Socket.IO, in their
        Engine.IO queue. The caller holds ``send_lock``."""
        eio = self.socketio.server.eio
        direct, others = [], []
        for sid in sids:
            eio_sid = self.clients.get(sid)  # None: it left since
            if eio_sid is None:
                continue
            if (frames := frames_of(eio, eio_sid)) is not None:
                direct.append(frames)
            else:
                others.append(sid)
        if direct:
            # a Socket.IO EVENT packet in an Engine.IO MESSAGE, as python-socketio writes it
            if type(data) is RawJSON:  # a broadcast's: encoded already, spliced in as it is
                payload = _event_head(event) + data.encode() + b"]"
            else:
                payload = ("42" + wire_dumps([event, data], separators=(",", ":"))).encode()
            self.fanout.put(text_frame(payload), direct)
        if others:
            self.socketio.emit(event, data, to=others)

    def _check(self) -> list[str]:
        """Update who lags, queue a snapshot for those that caught up; return the clients to skip.

        The caller holds ``send_lock``.
        """
        with self.lock:
            for sid, eio_sid in self.clients.items():
                queued, size = self._queued(eio_sid)
                if sid in self.lagging and queued <= self.low:
                    self.lagging.discard(sid)
                    self.awaiting[sid] = time.monotonic()
                    self.wake.notify()
                elif sid not in self.lagging and (queued > self.high or size > self.high_bytes):
                    self.lagging.add(sid)
                    logger.info(
                        "client %s is not reading (%d messages, %d bytes queued): holding back",
                        sid,
                        queued,
                        size,
                    )
            skip = list(self.lagging | self.joining | self.awaiting.keys())
            if self.lagging and self.timer is None:
                # nothing else may be sent for a while: look again to resync it when it drains
                self.timer = threading.Timer(0.5, self._recheck)
                self.timer.daemon = True
                self.timer.start()
        return skip

    def _recheck(self) -> None:
        with self.lock:
            self.timer = None
        with self.send_lock:
            self._check()

    def close(self) -> None:
        with self.lock:
            self.closing = True
            self.wake.notify()
            if self.timer is not None:
                self.timer.cancel()
        self.sender.join(2)
        self.fanout.close()
