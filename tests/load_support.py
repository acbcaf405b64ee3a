"""Load scenarios shared by the fast tests (tests/test_reliability_load.py) and ``make chaos``.

* ``big_state``: a list of N items (one ``extend``) reaches a connected client whole, and a
  client that joins afterwards gets it whole in its snapshot; both stay connected.
* ``resync_flood``: one client floods ``resync`` while writers run: the server sends it a
  few snapshots, not thousands, and a second client's ``changes`` keep flowing.

Each takes a started :class:`reliability_support.Server` and returns its figures.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import socketio
from reliability_support import Server, Watcher, wait_for


class OfficialClient:
    """The stock python-socketio client over websocket, with a small receive buffer.

    The small buffer makes the server's big sends back up, as a slow network would.
    """

    def __init__(self, server: Server, rcvbuf: int = 64 * 1024) -> None:
        self.cond = threading.Condition()
        self.events: list[tuple[str, Any]] = []
        self.disconnects = 0
        self.client = socketio.Client(
            reconnection=False,
            websocket_extra_options={"sockopt": [(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)]},
        )
        self.client.on("*", self._on_event)
        self.client.on("disconnect", self._on_disconnect)
        headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
        self.client.connect(server.url, transports=["websocket"], wait_timeout=10, headers=headers)

    def _on_event(self, event: str, data: Any = None) -> None:
        with self.cond:
            self.events.append((event, data))
            self.cond.notify_all()

    def _on_disconnect(self, reason: Any = None) -> None:
        with self.cond:
            self.disconnects += 1
            self.cond.notify_all()

    def received(self, event: str) -> list[Any]:
        with self.cond:
            return [data for name, data in self.events if name == event]

    def wait(self, predicate, timeout: float = 30.0, what: str = "an event") -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (value := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(remaining)
            return value

    @property
    def connected(self) -> bool:
        return self.client.connected and self.disconnects == 0

    def close(self) -> None:
        self.client.shutdown()


def big_state(srv: Server, items: int = 500_000) -> dict:
    """``l.extend(range(items))`` in one call, watched by one client and joined by another."""
    before = OfficialClient(srv)
    joined = None
    try:
        before.wait(lambda: before.received("snapshot"), what="the first snapshot")
        started = time.monotonic()
        srv.spawn(1, "fill", n=items, target="list")
        version = srv.wait_settled(60)["version"]
        extend = before.wait(
            lambda: next((c for c in before.received("changes") if c["to"] == version), None),
            60,
            "the extend to arrive",
        )
        (op,) = [op for op in extend["ops"] if op["op"] == "extend"]
        assert op["values"] == list(range(items)), "the extend arrived cut or changed"
        changes_after = time.monotonic() - started

        started = time.monotonic()
        joined = OfficialClient(srv)
        snap = joined.wait(lambda: joined.received("snapshot"), 60, "the joining client's snapshot")[0]
        snapshot_after = time.monotonic() - started
        assert snap["version"] >= version
        assert snap["list"] == list(range(items)), "the snapshot arrived cut or changed"

        # both are still connected and still receive what follows
        srv.spawn(1, "burst", n=1, keys=1)
        after = srv.wait_settled(60)["version"]
        for client in (before, joined):
            client.wait(
                lambda c=client: any(ch["to"] >= after for ch in c.received("changes")),
                60,
                "a change after the big one",
            )
            assert client.connected, "a client was disconnected"
        return {
            "items": items,
            "changes_received_after_s": round(changes_after, 3),
            "snapshot_received_after_s": round(snapshot_after, 3),
            "disconnects": before.disconnects + joined.disconnects,
        }
    finally:
        before.close()
        if joined is not None:
            joined.close()


def resync_flood(srv: Server, requests: int = 5000, entries: int = 3000, seconds: float = 3.0) -> dict:
    """One client emits ``requests`` resyncs as fast as it can while a writer runs for ``seconds``.

    Checks: it gets a handful of snapshots (coalesced and rate limited), the last one
    current; another client's ``changes`` keep arriving all along; the server's threads
    stay bounded and are back to the baseline afterwards.
    """
    srv.spawn(1, "fill", n=entries, target="dict")
    srv.wait_settled(30)
    flooder = Watcher(srv)
    watcher = Watcher(srv)
    try:
        flooder.wait(lambda: flooder.version is not None, what="the flooder's snapshot")
        watcher.wait(lambda: watcher.version is not None, what="the watcher's snapshot")
        base_threads = srv.threads()
        (writer,) = srv.spawn(1, "burst", n=10_000_000, rate=500, keys=50)
        snapshots_before = flooder.snapshots
        started = time.monotonic()
        for _ in range(requests):
            flooder.client.emit("resync")
        sent_in = time.monotonic() - started
        # the other client's changes keep flowing: its version moves on within the window
        longest_gap = 0.0
        most_threads = 0
        last_version, last_move = watcher.version, time.monotonic()
        while time.monotonic() - started < seconds:
            most_threads = max(most_threads, srv.threads())
            version = watcher.wait(lambda: watcher.version, what="the watcher's version")
            now = time.monotonic()
            if version != last_version:
                longest_gap = max(longest_gap, now - last_move)
                last_version, last_move = version, now
            with watcher.cond:
                watcher.cond.wait(0.05)
        longest_gap = max(longest_gap, time.monotonic() - last_move)
        assert srv.kill(writer["pid"], "KILL").status_code == 202
        version = srv.wait_settled()["version"]
        flooder.wait_version(version, 30)
        watcher.wait_version(version, 30)
        snapshots = flooder.snapshots - snapshots_before
        wait_for(lambda: srv.threads() <= base_threads + 2, 30, "the server's threads to settle")
        return {
            "resyncs_sent": requests,
            "sent_in_s": round(sent_in, 3),
            "snapshots_received": snapshots,
            "other_client_longest_gap_s": round(longest_gap, 3),
            "most_server_threads": most_threads,
            "baseline_threads": base_threads,
        }
    finally:
        flooder.close()
        watcher.close()
