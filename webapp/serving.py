"""Serving the app with Werkzeug's threaded server, websocket teardown included.

When a websocket session ends, simple-websocket raises ConnectionError out of the WSGI
app so that Werkzeug writes no HTTP response on the upgraded socket. Werkzeug treats
that as a dropped connection, but its handler then goes on to read the next HTTP/1.1
request from the same socket: it reads the client's last websocket frames (the close
frame) as a request line and logs ``code 400, message Bad request syntax ('\\x88\\x82…')``.
A dropped connection must simply end, which is what :class:`RequestHandler` does.

simple-websocket also writes each frame with one ``socket.send`` and ignores how much
of it was written; :class:`~webapp.framesocket.WholeFrameSocket` makes every write whole
(and takes the frames the registry fans out, ``offer``). And wsproto copies
a message four times on its way into a frame (a 5 MB snapshot: ~20 ms of the GIL per
client); :class:`DirectFrameWebSocket` writes big messages' frames itself.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from engineio import packet as eio_packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from wsproto.connection import ConnectionState

from .framesocket import WholeFrameSocket

# A websocket peer that sends nothing for this long (a live client answers the server's ping
# every 25 s), or takes nothing we send for this long, is gone. Without a timeout its
# connection kept up to four threads and a descriptor until the peer closed it, which a
# vanished or stuck peer never does. This is the ping_interval + ping_timeout that
# python-engineio means to set itself, but on socket attributes simple-websocket lacks.
WEBSOCKET_TIMEOUT = 45.0

# Messages from this size on are framed here rather than by wsproto (below it, its copies
# cost less than a system call saved)
DIRECT_FRAME_BYTES = 64 * 1024
_TEXT, _BINARY = 0x1, 0x2


class TextParts(tuple):
    """One text message given as UTF-8 byte strings, written one after another, never joined."""

    def decode(self) -> str:
        return b"".join(self).decode()


class PartsPacket:
    """An Engine.IO message packet whose text is already encoded, in parts (see send_parts)."""

    packet_type = eio_packet.MESSAGE
    binary = False

    def __init__(self, parts: TextParts) -> None:
        self.parts = parts
        self.data = max(parts, key=len)  # what a client's queue is measured by (ClientRegistry)

    def encode(self, b64: bool = False) -> TextParts:
        return self.parts


def text_frame(*parts: bytes) -> tuple[bytes, ...]:
    """A whole text frame: its header, then ``parts`` (UTF-8), for :meth:`WholeFrameSocket.offer`;
    joined when small (one system call per client, and one TCP segment: no Nagle delay)."""
    size = sum(map(len, parts))
    if size < DIRECT_FRAME_BYTES:
        return (frame_header(_TEXT, size) + b"".join(parts),)
    return (frame_header(_TEXT, size), *parts)


def frames_of(eio: Any, eio_sid: str) -> WholeFrameSocket | None:
    """The connection a client's frames are offered to (:meth:`WholeFrameSocket.offer`), or
    None: it left, or it is not a websocket from its first request (see DirectFrameWebSocket)."""
    return getattr(eio.sockets.get(eio_sid), "mpscope_frames", None)


def send_parts(eio: Any, eio_sid: str, parts: tuple[bytes, ...]) -> bool:
    """Queue a Socket.IO packet, encoded as ``parts``, to one client on a websocket.

    False if the client is not on a websocket (long-polling joins packets into one
    payload as text): the caller sends it the usual way.
    """
    sock = eio.sockets.get(eio_sid)
    if sock is None or not sock.upgraded or not issubclass(eio._async["websocket"], DirectFrameWebSocket):
        return False
    eio.send_packet(eio_sid, PartsPacket(TextParts((b"4", *parts))))
    return True


class _FlushPacket:
    """Put in a client's Engine.IO queue: its writer thread writes the offered frames the
    socket had no room for (``WholeFrameSocket.flush``)."""

    packet_type = eio_packet.NOOP
    binary = False
    data = None

    def encode(self, b64: bool = False) -> TextParts:
        return FLUSH


FLUSH = TextParts()  # what the writer thread hands to DirectFrameWebSocket.send for it


class DirectFrameWebSocket(SimpleWebSocketWSGI):
    """Engine.IO's threading websocket, writing a big message as a frame header and the payload.

    wsproto builds each frame by copying the payload four times into fresh memory; for a
    snapshot of 100,000 dict entries that was most of what a joining client cost the
    server, and it is paid under the GIL every push needs. A frame is only a header before
    the payload: here it goes to the socket with the message's bytes as they are (and a
    message already in parts, :class:`TextParts`, part after part). It is sent
    uncompressed even where the client negotiated permessage-deflate, which RFC 7692
    allows per message (the RSV1 bit clear): deflating megabytes to a local browser costs
    more than it saves.
    """

    def __call__(self, environ: dict, start_response: Any) -> Any:
        handler, sock = self.app, environ.get("werkzeug.socket")
        eio_socket = getattr(handler, "__self__", None)  # the Engine.IO session it serves
        # A connection that is a websocket from its first request (never polled: the page's)
        # has nothing queued but its OPEN packet: from then on, the registry's frames may be
        # offered to its socket directly, in their own order (WholeFrameSocket.offer). A
        # polling session that upgrades may still have packets queued: it keeps the queue.
        if isinstance(sock, WholeFrameSocket) and eio_socket is not None and not eio_socket.connected:

            def attached(ws: Any) -> Any:
                # after the handshake (nothing may be written before its response)
                sock.wake_writer = lambda: eio_socket.queue.put(_FlushPacket())
                eio_socket.mpscope_frames = sock
                return handler(ws)

            self.app = attached
        return super().__call__(environ, start_response)

    def send(self, message: str | bytes | TextParts) -> None:
        ws = self.ws
        sock = ws.sock
        if message is FLUSH:
            if isinstance(sock, WholeFrameSocket):
                sock.flush()
            return None
        if isinstance(message, str) and message[:1] == "0" and isinstance(sock, WholeFrameSocket):
            super().send(message)  # Engine.IO's OPEN: the first packet, before any offered frame
            sock.release()
            return None
        is_text = not isinstance(message, bytes)
        if (
            (len(message) < DIRECT_FRAME_BYTES and not isinstance(message, TextParts))
            or not isinstance(sock, WholeFrameSocket)  # a frame is only written whole there
            or not ws.connected
            or ws.ws.state is not ConnectionState.OPEN
        ):
            return super().send(message.decode() if isinstance(message, TextParts) else message)
        parts = message if isinstance(message, TextParts) else (message.encode() if is_text else message,)
        header = frame_header(_TEXT if is_text else _BINARY, sum(map(len, parts)))
        sock.send(header, *parts)  # an OSError tells Engine.IO the connection is gone
        return None


def frame_header(opcode: int, size: int) -> bytes:
    """A final, unmasked frame's header; the length in the fewest bytes (RFC 6455 5.2 says
    must, and Chromium fails a connection that does otherwise)."""
    if size < 126:
        return struct.pack("!BB", 0x80 | opcode, size)
    if size < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, size)
    return struct.pack("!BBQ", 0x80 | opcode, 127, size)


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, except that a dropped (or upgraded and ended) connection closes."""

    def setup(self) -> None:
        super().setup()
        # Websocket frames are small and often sent back to back: with Nagle's algorithm on,
        # a frame waited for the client's delayed ACK, stalling pushes by ~40 ms every few
        # seconds at 1,000 changes/s (make bench: latency p99 28-42 ms; with this, ~5 ms).
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def make_environ(self) -> dict:
        environ = super().make_environ()
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            self.connection.settimeout(WEBSOCKET_TIMEOUT)
            environ["werkzeug.socket"] = WholeFrameSocket(self.connection)
        return environ

    def connection_dropped(self, error: BaseException, environ: dict | None = None) -> None:
        self.close_connection = True


def make_threaded_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """Bind ``host:port`` (0 picks a free port) and return a threaded WSGI server."""
    return make_server(host, port, app, threaded=True, request_handler=RequestHandler)
