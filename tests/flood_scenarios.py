"""Load scenarios shared by the fast tests (tests/test_reliability_load.py) and ``make chaos``.

* ``big_state``: a list of N items (one ``extend``) reaches a connected client whole, and a
  client that joins afterwards gets it whole in its snapshot; both stay connected.
* ``resync_flood``: one client floods ``resync`` while writers run: the server sends it a
  few snapshots, not thousands, and a second client's ``changes`` keep flowing.

Each takes a started :class:`reliability_support.Server` and returns its figures.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import socketio
from reliability_support import Server, Watcher, wait_for

from webapp.clients import RESYNC_INTERVAL
from webapp.output import BATCH_BYTES
from webapp.scrollback import LINE_COST


class OfficialClient:
    """The stock python-socketio client over websocket, by default with a small receive buffer.

    The small buffer makes the server's big sends back up, as a slow network would.
    """

    def __init__(self, server: Server, rcvbuf: int | None = 64 * 1024) -> None:
        self.cond = threading.Condition()
        self.events: list[tuple[str, Any]] = []
        self.disconnects = 0
        sockopt = [(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)] if rcvbuf else []
        # websocket-client checks UTF-8 in pure Python (~10 MB/s) unless told not to
        options = {"sockopt": sockopt, "skip_utf8_validation": True}
        self.client = socketio.Client(reconnection=False, websocket_extra_options=options)
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
        assert snap["objects"]["l"]["value"] == list(range(items)), "the snapshot arrived cut or changed"

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
        base_threads, base_rss = srv.threads(), srv.rss()
        (writer,) = srv.spawn(1, "burst", n=10_000_000, rate=500, keys=50)
        snapshots_before = flooder.snapshots
        started = time.monotonic()
        for _ in range(requests):
            flooder.client.emit("resync")
        sent_in = time.monotonic() - started
        # the other client's changes keep flowing: its version moves on within the window
        longest_gap = 0.0
        most_threads, most_rss = 0, base_rss
        last_version, last_move = watcher.version, time.monotonic()
        while time.monotonic() - started < seconds:
            most_threads = max(most_threads, srv.threads())
            most_rss = max(most_rss, srv.rss())
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
        # coalesced and rate limited: at most one per RESYNC_INTERVAL (+1 for the first)
        most = (time.monotonic() - started) / RESYNC_INTERVAL + 2
        assert 1 <= snapshots <= most, f"{snapshots} snapshots for {requests} resyncs"
        wait_for(lambda: srv.threads() <= base_threads + 2, 30, "the server's threads to settle")
        return {
            "resyncs_sent": requests,
            "sent_in_s": round(sent_in, 3),
            "snapshots_received": snapshots,
            "other_client_longest_gap_s": round(longest_gap, 3),
            "most_server_threads": most_threads,
            "baseline_threads": base_threads,
            "rss_growth_mib": round((most_rss - base_rss) / 2**20, 1),
        }
    finally:
        flooder.close()
        watcher.close()


def output_flood(srv: Server, printers: int = 4, lines: int = 1000, width: int = 10_000) -> dict:
    """``printers`` print ``lines`` lines of ``width`` characters each, flat out, watched by a client.

    Checks: no ``output`` message is over the batch bound; every line printed is either
    received or counted in a message's ``skipped``; the client stays connected. (Should
    the client read too slowly and be held back, it misses messages by design and is sent
    a snapshot instead: then that snapshot is what is checked for.)
    """
    client = OfficialClient(srv, rcvbuf=None)
    try:
        client.wait(lambda: client.received("snapshot"), what="the first snapshot")
        started = time.monotonic()
        workers = srv.spawn(printers, "printer", lines=lines, width=width)
        pids = [w["pid"] for w in workers]
        for pid in pids:
            wait_for(lambda p=pid: srv.get_json(f"/api/workers/{p}")["state"] == "exited", 60, "the printers")

        def numbered() -> int:
            # the lines the server read, once each printer's pipes are at EOF
            return sum(srv.get_json(f"/api/workers/{pid}/output")["total"] for pid in pids)

        def accounted() -> int:
            # a line that waited unfinished for 0.1 s is sent as open, then again (same pid
            # and n) when complete: each line counts once, received or skipped
            batches = client.received("output")
            lines = {(line["pid"], line["n"]) for b in batches for line in b["lines"]}
            return min(numbered(), len(lines) + sum(b.get("skipped", 0) for b in batches))

        def held_back_and_resynced() -> bool:
            return "is not reading" in srv.log() and len(client.received("snapshot")) > 1

        total = wait_for(
            lambda: (
                held_back_and_resynced() or (n := numbered()) >= printers * lines and n == accounted() and n
            ),
            60,
            "every line to be received or counted as skipped",
        )
        elapsed = time.monotonic() - started
        held_back = total is True
        batches = client.received("output")
        sizes = [len(json.dumps(b["lines"], separators=(",", ":"))) for b in batches]
        received = sum(len(b["lines"]) for b in batches)
        skipped = sum(b.get("skipped", 0) for b in batches)
        assert max(sizes) <= BATCH_BYTES, f"an output message of {max(sizes)} bytes"
        mine = {w["pid"] for w in workers}
        assert {line["pid"] for b in batches for line in b["lines"]} <= mine
        assert client.connected, "the client was disconnected"
        return {
            "lines_printed": printers * lines,
            "bytes_printed": printers * lines * (width + 1),
            "lines_read": numbered(),
            "messages": len(batches),
            "largest_message_bytes": max(sizes),
            "batch_bound_bytes": BATCH_BYTES,
            "lines_received": received,
            "client_held_back": held_back,
            "lines_skipped": skipped,
            "seconds": round(elapsed, 3),
        }
    finally:
        client.close()


def ended_output(srv: Server, budget: int, workers: int = 8, lines: int = 2000, width: int = 200) -> dict:
    """``workers`` printers, one after another, each printing ``lines`` lines and ending.

    Checks: the ended workers' output kept (text bytes plus LINE_COST per line, as the server
    counts it) stays within ``budget``; the oldest ended worker loses lines first, and the
    newest keeps all of its own.
    """
    pids = []
    for _ in range(workers):
        (worker,) = srv.spawn(1, "printer", lines=lines, width=width)
        pids.append(worker["pid"])
        wait_for(lambda p=worker["pid"]: srv.get_json(f"/api/workers/{p}")["state"] == "exited", 30)
        # its output is counted once both its pipes are at EOF: all its lines are in
        wait_for(
            lambda p=worker["pid"]: srv.get_json(f"/api/workers/{p}/output")["total"] == lines,
            30,
            "all its lines to be read",
        )
    answers = [srv.get_json(f"/api/workers/{pid}/output") for pid in pids]
    kept = [sum(len(line["text"].encode()) + LINE_COST for line in a["lines"]) for a in answers]
    dropped = [a["dropped"] for a in answers]
    assert sum(kept) <= budget, f"{sum(kept)} bytes kept for ended workers, budget {budget}"
    assert dropped == sorted(dropped, reverse=True), f"a newer worker lost lines first: {dropped}"
    assert dropped[-1] == 0, f"the newest ended worker lost lines: {dropped}"
    assert srv.state()["limits"]["ended_output_bytes"] == budget
    return {
        "budget": budget,
        "kept_bytes": sum(kept),
        "ended_workers": workers,
        "emptied": sum(1 for d in dropped if d == lines),
        "trimmed": sum(1 for d in dropped if 0 < d < lines),
        "oldest_dropped_lines": dropped[0],
    }
