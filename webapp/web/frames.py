"""Malformed Engine.IO and Socket.IO frames: one short, rate-limited log line, and the client is dropped.

Left to python-engineio and python-socketio, each bad frame (``42``, ``42[]``, ``42{}``,
``42[``, ``4x``, ``44``, ``451-[``, JSON nested past the parser's depth) logged a full
traceback, twice (their own handler, then the root logger's), as often as a client cared
to send one. An empty or NUL text frame did worse: it escaped the websocket handler, and
Werkzeug wrote a 500 page onto the upgraded socket. A client that sends such a frame is
broken or hostile; it is disconnected, and the log says so in one line.

Two places check, before anything is dispatched:

* the websocket itself (:class:`CheckedWebSocket`): a text frame must be a known Engine.IO
  packet type; anything else ends the connection as if the client had closed it, which
  runs Engine.IO's own clean-up;
* Engine.IO's ``message`` handler (:func:`install`): a message must decode as a Socket.IO
  packet that the server can dispatch (an event is a list that starts with its name).
  This also covers the long-polling transport.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import socketio
from socketio import packet

from ..ratelimit import RateLimiter
from ..serving import DirectFrameWebSocket

logger = logging.getLogger(__name__)

ENGINEIO_TYPES = frozenset("0123456")  # open, close, ping, pong, message, upgrade, noop
CLIENT_SOCKETIO_TYPES = {packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK}
BINARY_TYPES = {packet.BINARY_EVENT, packet.BINARY_ACK}


class MalformedFrame(ValueError):
    """A frame no client of ours sends; the message says what was wrong with it."""


class DropReport:
    """Logs dropped clients at most ``rate`` lines a second, counting the lines it held back."""

    def __init__(self, rate: float = 1.0, burst: int = 3) -> None:
        self.budget = RateLimiter(rate, burst)
        self.lock = threading.Lock()
        self.held_back = 0

    def __call__(self, reason: str, frame: Any) -> None:
        with self.lock:
            if not self.budget.allow("log"):
                self.held_back += 1
                return
            held_back, self.held_back = self.held_back, 0
        more = f" ({held_back} more since the last line)" if held_back else ""
        logger.warning("dropped a client that sent a malformed frame (%s): %.40r%s", reason, frame, more)


report = DropReport()


def check_engineio(frame: Any) -> None:
    """Raise MalformedFrame unless ``frame`` is a binary frame or a known Engine.IO text packet."""
    if isinstance(frame, str) and (not frame or frame[0] not in ENGINEIO_TYPES):
        raise MalformedFrame("not an Engine.IO packet")


def check_socketio(server: socketio.Server, eio_sid: str, data: Any) -> None:
    """Raise MalformedFrame unless ``data`` is a Socket.IO packet the server can dispatch."""
    if not isinstance(data, str):
        if eio_sid not in server._binary_packet:
            raise MalformedFrame("a binary frame that no packet announced")
        return
    try:
        pkt = server.packet_class(encoded_packet=data)
    except (ValueError, TypeError, RecursionError) as exc:  # JSON errors are ValueErrors
        raise MalformedFrame(f"undecodable: {type(exc).__name__}") from None
    kind = pkt.packet_type
    if kind not in CLIENT_SOCKETIO_TYPES | BINARY_TYPES:
        raise MalformedFrame(f"packet type {kind!r} is not one a client sends")
    if kind in (packet.EVENT, packet.BINARY_EVENT):
        if not (isinstance(pkt.data, list) and pkt.data and isinstance(pkt.data[0], str)):
            raise MalformedFrame("an event is a list that starts with its name")
    elif kind in (packet.ACK, packet.BINARY_ACK) and not isinstance(pkt.data, list):
        raise MalformedFrame("an acknowledgement is a list")
    elif kind == packet.CONNECT and pkt.data is not None and not isinstance(pkt.data, dict):
        raise MalformedFrame("connect data is an object")


class CheckedWebSocket(DirectFrameWebSocket):
    """The websocket (big frames written directly) that ends the connection on a malformed frame."""

    def wait(self) -> Any:
        frame = super().wait()
        try:
            check_engineio(frame)
        except MalformedFrame as exc:
            report(str(exc), frame)
            return None  # what a closed connection returns: Engine.IO cleans up and disconnects
        return frame


def drop(eio: Any, eio_sid: str) -> None:
    """Close one client's Engine.IO session without waiting for it to take the CLOSE packet.

    ``eio.disconnect`` waits until the client has read everything queued for it; a
    long-polling client whose bad POST is being handled cannot read until that POST is
    answered, so waiting there would hang both for good.
    """
    sock = eio.sockets.get(eio_sid)  # Engine.IO forgets it once closed and polled (or its websocket ends)
    if sock is not None:
        sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)


def install(server: socketio.Server) -> None:
    """Check every frame the bound ``server`` receives, on the websocket and in its dispatcher."""
    eio = server.eio
    for log in (server.logger, eio.logger):
        # each adds a bare StreamHandler of its own and also propagates to the root logger:
        # every line it logged was printed twice, once without a time
        log.handlers.clear()
    eio._async = {**eio._async, "websocket": CheckedWebSocket}  # this server's copy only
    dispatch = eio.handlers["message"]

    def checked_message(eio_sid: str, data: Any) -> Any:
        try:
            check_socketio(server, eio_sid, data)
        except MalformedFrame as exc:
            report(str(exc), data)
            drop(eio, eio_sid)
            return None
        return dispatch(eio_sid, data)

    eio.on("message", checked_message)
