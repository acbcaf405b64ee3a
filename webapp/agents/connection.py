"""AgentConnection: one process's end of the agents' socket, as the listener reads it.

It receives bytes and the descriptors a hello brings, and splits what comes into message
lines within the limits: a connection that sends more than ``MAX_HELLO`` before its hello
is not an agent, and no line may exceed the listener's ``max_line``; :func:`refusal`
says whether its first message is a hello to accept. What to do past a limit (log,
refuse, drop) is the listener's.
"""

from __future__ import annotations

import array
import hmac
import os
import socket
import threading
import time
from collections.abc import Iterator

from mpscope_agent import protocol

MAX_FDS = 4
MAX_HELLO = 64 * 1024  # a connection that sends more than this before its hello is not an agent
# what lines() yields at a limit, after which it ends: a line over max_line, or no hello in MAX_HELLO
TOO_LONG, NO_HELLO = object(), object()


class AgentConnection:
    """One process's connection: its PID, whether it said hello, and unread bytes."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid
        self.greeted = False
        self.chunks: list[bytes] = []  # the unfinished line, as read (joined once its newline comes)
        self.size = 0  # its length
        self.accepted_at = time.monotonic()
        self.fds: list[int] = []  # descriptors received before the hello was complete
        self.write_lock = threading.Lock()

    def send(self, message: dict) -> bool:
        data = protocol.line(message)
        with self.write_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                return False
        return True

    def receive(self) -> bytes:
        """What one read brings (``b""`` at the end); descriptors that come with it are kept in
        ``fds`` until the hello, and closed after it (only the hello may carry descriptors)."""
        fds = array.array("i")
        try:
            data, ancdata, _flags, _addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
        except OSError:
            data, ancdata = b"", []
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
        if fds and self.greeted:
            for fd in fds:
                os.close(fd)
        else:
            self.fds.extend(fds)
        return data

    def close_fds(self) -> None:
        """Close the descriptors received and not taken (the connection is refused or ended)."""
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def lines(self, data: bytes, max_line: int) -> Iterator[bytes | object]:
        """The lines ``data`` completes, in order, then ``TOO_LONG`` or ``NO_HELLO`` if a limit
        was passed (nothing follows it); it stops if the connection was closed meanwhile.

        Linear in what is read: the newline is searched for in new data only, and an
        unfinished line is kept as the chunks it came in, joined once, when it ends.
        """
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if self.chunks:
                self.chunks.append(data[start:end])
                line, self.chunks, self.size = b"".join(self.chunks), [], 0
            else:
                line = data[start:end]
            if not self.greeted and len(line) > MAX_HELLO:
                break
            yield line
            if self.sock.fileno() < 0:  # dropped while its line was handled (a refused hello)
                return
            start = end + 1
        else:
            if start < len(data):
                self.chunks.append(data[start:])
                self.size += len(data) - start
            if self.greeted or self.size <= MAX_HELLO:
                if self.size > max_line:
                    yield TOO_LONG
                return
        yield NO_HELLO


def refusal(hello: dict, key: str) -> str:
    """Why a first message is not an agent's hello we accept ("" if it is)."""
    if hello.get("t") != protocol.HELLO or not hmac.compare_digest(str(hello.get("key")), key):
        return "bad key"
    if hello.get("v") != protocol.VERSION:
        return f"protocol version {hello.get('v')!r}, not {protocol.VERSION} (another mpscope's agent?)"
    return ""
