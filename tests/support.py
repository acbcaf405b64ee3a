"""The core tests' names for the harness in ``testkit/``: a REST helper and a recording client.

Everything drives real parts: a ``python -m webapp`` subprocess (:class:`testkit.server.Server`),
its Manager and worker processes, HTTP through requests, and Socket.IO over a websocket.
"""

from __future__ import annotations

import socket

from testkit.client import SocketClient
from testkit.processes import MARK  # noqa: F401 -- re-exported for the tests
from testkit.rest import ENDED, LIVE, ServerApi, token_session  # noqa: F401
from testkit.server import REPO, Server  # noqa: F401
from testkit.waiting import is_alive, wait_for  # noqa: F401

MAX_WORKERS = 8


def loopback_pair(buf: int = 16 * 1024) -> tuple[socket.socket, socket.socket]:
    """``(sender, receiver)``: a loopback TCP connection whose sender has a timeout, as served
    websockets do, and whose buffers are ``buf`` bytes (small, so that a send fills them)."""
    from webapp.serving import WEBSOCKET_TIMEOUT

    with socket.create_server(("127.0.0.1", 0)) as listener:
        receiver = socket.create_connection(listener.getsockname())
        sender, _ = listener.accept()
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buf)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buf)
    sender.settimeout(WEBSOCKET_TIMEOUT)
    return sender, receiver


def read_all(sock: socket.socket, into: bytearray) -> None:
    """Append what ``sock`` receives to ``into`` until its peer closes."""
    while chunk := sock.recv(65536):
        into += chunk


class Api(ServerApi):
    """The REST helpers on a session of its own, for one server (see :class:`testkit.rest.ServerApi`)."""

    request_timeout = 10.0

    def __init__(self, srv: Server) -> None:
        self.server = srv
        self.url = srv.url
        self.token = srv.token  # so that a LiveClient(api) connects with it
        self.session = token_session(srv.token)

    def track(self, pid: int) -> None:
        self.server.track(pid)

    def close(self) -> None:
        self.session.close()


class LiveClient(SocketClient):
    """A :class:`testkit.client.SocketClient` that also keeps every ``changes`` batch (see ``ops()``)."""

    def __init__(self, server: str | Server | Api) -> None:
        """``server``: a URL, or a Server or Api (whose token it connects with)."""
        super().__init__(server, keep_changes=True)
