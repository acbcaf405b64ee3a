"""Serving the app with Werkzeug's threaded server, websocket teardown included.

When a websocket session ends, simple-websocket raises ConnectionError out of the WSGI
app so that Werkzeug writes no HTTP response on the upgraded socket. Werkzeug treats
that as a dropped connection, but its handler then goes on to read the next HTTP/1.1
request from the same socket: it reads the client's last websocket frames (the close
frame) as a request line and logs ``code 400, message Bad request syntax ('\\x88\\x82…')``.
A dropped connection must simply end, which is what :class:`RequestHandler` does.

simple-websocket also writes each frame with one ``socket.send`` and ignores how much
of it was written; :class:`WholeFrameSocket` makes every write whole.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

# A websocket peer that sends nothing for this long (a live client answers the server's ping
# every 25 s), or takes nothing we send for this long, is gone. Without a timeout its
# connection kept up to four threads and a descriptor until the peer closed it, which a
# vanished or stuck peer never does. This is the ping_interval + ping_timeout that
# python-engineio means to set itself, but on socket attributes simple-websocket lacks.
WEBSOCKET_TIMEOUT = 45.0


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

    def send(self, data: bytes) -> int:
        """Write all of ``data`` or raise (and cut the connection off); return its length."""
        with self._send_lock:
            if self._broken:
                raise BrokenPipeError("the connection was cut off by an earlier failed send")
            view = memoryview(data)
            try:
                while view:
                    view = view[self._sock.send(view) :]
            except OSError:
                self._broken = True
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already gone
                raise
        return len(data)

    sendall = send

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


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
