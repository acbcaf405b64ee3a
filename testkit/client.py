"""One Socket.IO test client that rebuilds what a page shows, and a raw-websocket opener.

:class:`SocketClient` is python-socketio over a websocket that handles its messages in order,
one by one, as a page does (:class:`InOrderClient`), and rebuilds the shared state through the
one replayer (:class:`sharedstate.replica.StateReplica`) and the worker table from
``snapshot``, ``changes`` and ``workers`` events only.

:func:`raw_socket` opens a bare Engine.IO websocket and joins the default namespace: the
benchmarks' measuring client and the tests' clients that stop reading start from it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import engineio
import socketio
import websocket

from sharedstate.replica import StateReplica


def key(value: Any) -> str:
    """A hashable identity for an encoded dict key (encoded keys may be JSON objects)."""
    if type(value) is str:  # the common case, kept cheap: a storm applies ~35,000 changes/s
        return "s" + value
    return "j" + json.dumps(value, sort_keys=True)


def dict_of(pairs: list) -> dict[str, Any]:
    """The encoded shared dict (``[[key, value], ...]``) keyed by :func:`key`."""
    return {key(k): v for k, v in pairs}


def raw_socket(url: str, token: str | None = None, rcvbuf: int | None = None, timeout: float = 10) -> Any:
    """A websocket to ``url``'s Socket.IO endpoint, past the Engine.IO open, the namespace connect sent.

    A small ``rcvbuf`` makes the server's sends back up after a few kilobytes.
    """
    host = url.removeprefix("http://")
    ws = websocket.create_connection(
        f"ws://{host}/socket.io/?EIO=4&transport=websocket",
        timeout=timeout,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf),) if rcvbuf else (),
        header=[f"Authorization: Bearer {token}"] if token else None,
        # websocket-client's own UTF-8 check is pure Python (without the optional wsaccel):
        # it cost a client replaying a busy feed more CPU than the dashboard spent sending
        # it, on the same cores (a browser checks natively). recv() still decodes the text.
        skip_utf8_validation=True,
    )
    opening = ws.recv()
    assert opening.startswith("0{"), opening
    ws.send("40")  # connect to the default namespace
    return ws


class InOrderEngineIOClient(engineio.Client):
    """python-engineio's client, except that messages are handled in its read loop, in order.

    The stock client starts a thread per message, so a ``snapshot`` and the ``workers``
    event sent after it could be handled the other way round (leaving a killed worker shown
    as running), and under a storm thousands of handler threads starved the read loop until
    the client missed the server's ping. A page handles its messages in order, one by one.
    """

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)

    def _connect_websocket(self, *args: Any, **kwargs: Any) -> bool:
        connected = super()._connect_websocket(*args, **kwargs)
        # Its write loop gives up when it has had nothing to send (no ping to answer) for
        # ping_interval + 5 s; the browser client waits ping_interval + ping_timeout (45 s).
        # A test client starved of CPU next to flat-out workers can be that late reading
        # its backlog; let it be as patient as a page.
        self.ping_timeout = self.ping_interval + self.ping_timeout
        return connected


class InOrderClient(socketio.Client):
    def _engineio_client_class(self) -> type:
        return InOrderEngineIOClient


class SocketClient:
    """A websocket Socket.IO client that rebuilds state and workers from events, as the page does.

    ``server`` is a URL or anything with ``url`` and ``token``. Every event but ``changes`` is
    kept in ``events`` (``changes`` too with ``keep_changes``: a storm sends many). ``changes``
    batches wait in ``pending`` (keyed by the version they start from) until the one that
    starts at ``version`` is there, and the thread that waits applies them, to keep the read
    loop quick.
    """

    def __init__(
        self,
        server: Any,
        connect: bool = True,
        reconnect: bool = False,
        keep_changes: bool = False,
        **connect_options: Any,
    ) -> None:
        self.url: str = server if isinstance(server, str) else server.url
        self.token: str | None = None if isinstance(server, str) else server.token
        self.keep_changes = keep_changes
        self.cond = threading.Condition()
        self.replica = StateReplica()  # every shared object, replayed by the one replayer
        self.pending: dict[int, dict] = {}
        self.workers: dict[int, dict] = {}
        self.removed: set[int] = set()  # every worker a ``workers`` event said was removed
        self.ended_at: dict[int, float] = {}  # every worker seen ending, kept after removal
        self.events: list[tuple[str, Any]] = []
        self.snapshots = 0
        self.connects = 0
        self.sockets: list[Any] = []
        # reconnect as the page does (with a fresh snapshot). Under a storm a CPU-starved
        # python-socketio client can miss the server's ping by more than its 5 s slack and drop.
        self.client = InOrderClient(reconnection=reconnect, reconnection_delay=0.2)
        self.client.on("connect", self._connected)
        self.client.on("*", self._on_event)
        if connect:
            self.connect(**connect_options)

    def connect(self, **options: Any) -> None:
        headers = options.pop("headers", {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        self.client.connect(self.url, transports=["websocket"], wait_timeout=10, headers=headers, **options)

    def _connected(self) -> None:
        with self.cond:
            self.connects += 1
            # python-engineio does not close the websocket it gave up on; a page would
            ws = getattr(self.client.eio, "ws", None)
            for old in self.sockets:
                if old is not ws:
                    old.shutdown()
            self.sockets = [ws] if ws is not None else []

    def _on_event(self, event: str, data: Any = None) -> None:
        with self.cond:
            if event != "changes" or self.keep_changes:
                self.events.append((event, data))
            if event == "snapshot":
                self.snapshots += 1
                self._load(data)
            elif event == "changes":
                self.pending[data["from"]] = data  # applied by the thread that waits (see wait())
            elif event == "workers":
                self._merge(data["workers"])
                for pid in data["removed"]:
                    self.workers.pop(pid, None)
                    self.removed.add(pid)
            self.cond.notify_all()

    def _load(self, snap: dict) -> None:
        if self.version is not None and snap["version"] < self.version:
            return  # an older snapshot delivered late: what we have is newer
        self.replica.load(snap)
        self.workers = {}
        self._merge(snap["workers"])
        # batches that began before the snapshot's version but end after it apply in part
        for start, batch in sorted(self.pending.items()):
            if batch["to"] <= self.version:
                del self.pending[start]
            elif start < self.version:
                del self.pending[start]
                self.pending[self.version] = batch
        self._drain()

    def _merge(self, infos: list[dict]) -> None:
        # as the page does: the info received last wins, so the server must send them in order
        for info in infos:
            if info["ended_at"] is not None:
                self.ended_at[info["pid"]] = info["ended_at"]
            self.workers[info["pid"]] = info

    def _drain(self) -> None:
        """Apply the pending batches that follow on from ``version``; drop those already in it."""
        if self.version is None:
            return
        while (batch := self.pending.pop(self.version, None)) is not None:
            self.replica.add(batch)  # it follows on, so the replica applies it at once
        for start in [start for start, batch in self.pending.items() if batch["to"] <= self.version]:
            del self.pending[start]

    # -- reading ------------------------------------------------------------------------------
    @property
    def version(self) -> int | None:
        return self.replica.version

    @property
    def list(self) -> list:
        """The shared list ``l``, encoded as in ``/api/state``."""
        return self.replica.list

    @property
    def dict(self) -> dict[str, Any]:
        """The shared dict ``d``, encoded, keyed by :func:`key`."""
        return dict_of(self.replica.dict)

    def received(self, event: str) -> list[Any]:
        with self.cond:
            return [data for name, data in self.events if name == event]

    def ops(self) -> list[dict]:
        """Every op of every ``changes`` batch received (needs ``keep_changes``)."""
        assert self.keep_changes, "ops() needs a client made with keep_changes=True"
        return [op for batch in self.received("changes") for op in batch["ops"]]

    def wait(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "an event") -> Any:
        """Wait until ``predicate()`` is truthy, checked after each event with changes applied."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                self._drain()
                if value := predicate():
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(remaining)

    def wait_version(self, version: int, timeout: float = 15.0) -> None:
        self.wait(
            lambda: self.version is not None and self.version >= version and not self.pending,
            timeout,
            f"version {version} (at {self.version})",
        )

    def call(self, event: str, data: Any = None, timeout: float = 15) -> Any:
        """Emit ``event`` and return the server's acknowledgement."""
        return self.client.call(event, data, timeout=timeout)

    def close(self) -> None:
        self.client.shutdown()  # disconnects if still connected
        ws = getattr(self.client.eio, "ws", None)
        if ws is not None:  # when the server ended the connection, nobody closed its socket
            ws.shutdown()
