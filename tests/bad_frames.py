"""Hostile clients on the wire, shared by the fast tests and ``chaos/run.py``: malformed frames.

A raw websocket completes the Socket.IO connect, sends one frame no Socket.IO client sends, and
must be dropped with a close frame (never an HTTP error page written onto the upgraded socket),
while python-socketio clients go on receiving changes.
"""

from __future__ import annotations

import time

import websocket
from reliability_support import Server, Watcher, assert_same_state, stuck_client

# one of each way a frame can be wrong: Socket.IO packets without an event, broken JSON, an
# unknown or server-only packet type, a binary event with nothing after it, an empty and a
# NUL text frame, an event name that is not a string, JSON nested past the parser's depth,
# text that is no Engine.IO packet, and a binary frame that no packet announced
MALFORMED_FRAMES: list[str | bytes] = [
    "42",
    "42[]",
    "42{}",
    "42[",
    "4x",
    "44",
    "47",
    "451-[",
    "",
    "\x00",
    "42[1]",
    "42" + "[" * 20_000 + "]" * 20_000,
    "hello",
    b"\x00\x01",
]
LOG_MARK = "malformed frame"
LOG_BURST = 3  # webapp/web/frames.py: DropReport(rate=1.0, burst=3)


def dropped(ws: websocket.WebSocket, timeout: float) -> bool:
    """Read until the server closes the connection (True) or ``timeout`` passes (False).

    Messages already on their way (a snapshot) may come first; anything that is not a
    websocket frame (an HTTP page written onto the socket) raises WebSocketProtocolException.
    """
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ws.settimeout(remaining)
        try:
            opcode, _ = ws.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            return True
        except websocket.WebSocketTimeoutException:
            return False
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return True
    return False


def send_malformed(srv: Server, frame: str | bytes) -> None:
    """Connect a raw client, send ``frame`` and assert the server drops that client."""
    ws = stuck_client(srv, rcvbuf=1 << 20)  # reads what it is sent: only the frame is at fault
    try:
        if isinstance(frame, bytes):
            ws.send_binary(frame)
        else:
            ws.send(frame)
        assert dropped(ws, 10), f"a client that sent {frame[:20]!r} was not dropped"
    finally:
        ws.shutdown()  # close() leaves the socket of a connection the server already closed


def malformed_frames(srv: Server, rounds: int, clients: int = 2) -> dict:
    """Send every malformed frame ``rounds`` times, each from its own client, while a worker
    writes and ``clients`` Socket.IO clients follow the state.

    Checks: each sender is dropped; the log has at most one short line per bad frame and at
    most the rate limit's worth (a burst, then one a second); no error or traceback is logged
    (the ``servers`` fixture and ``chaos`` check that when they stop the server); the
    following clients received changes all along and end in step with ``/api/state``.
    """
    watchers = [Watcher(srv) for _ in range(clients)]
    writer = srv.spawn(1, "burst", n=10_000_000, rate=300.0, keys=50)[0]["pid"]
    sent = 0
    try:
        started = time.monotonic()
        for _ in range(rounds):
            for frame in MALFORMED_FRAMES:
                version = srv.health()["version"]
                send_malformed(srv, frame)
                sent += 1
                for watcher in watchers:  # still following, right after each drop
                    watcher.wait_version(version, 15)
        elapsed = time.monotonic() - started
    finally:
        srv.kill(writer)
    try:
        same = assert_same_state(srv, watchers)
    finally:
        for watcher in watchers:
            watcher.close()
    lines = [line for line in srv.log().splitlines() if LOG_MARK in line]
    allowed = min(sent, LOG_BURST + int(elapsed) + 1)
    assert len(lines) <= allowed, f"{len(lines)} log lines for {sent} bad frames in {elapsed:.1f} s"
    assert all(len(line) < 250 for line in lines), max(lines, key=len)
    assert "Traceback" not in srv.log()
    return {
        "bad_frames": sent,
        "clients_dropped": sent,
        "log_lines": len(lines),
        "seconds": round(elapsed, 1),
        "followers": clients,
        "state_version": same["version"],
    }
