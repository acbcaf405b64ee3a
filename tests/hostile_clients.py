"""Clients and processes that misbehave: a socket that stops reading, API hammering, a stranger.

* :func:`stuck_client` is a raw websocket that completes the Socket.IO connect and then
  stops reading; :func:`read_until` reads it again.
* :class:`Hammer` keeps calling the API from threads and fails on any 500.
* :class:`Stranger` is a process the server did not start and must never signal.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

import requests
import websocket

from testkit.client import raw_socket
from testkit.rest import token_session
from testkit.server import Server


def stuck_client(server: Server, rcvbuf: int = 4096) -> websocket.WebSocket:
    """A raw websocket that completes the Engine.IO and Socket.IO connect, then reads nothing.

    Its receive buffer is small, so the server's sends back up after a few kilobytes.
    """
    ws = raw_socket(server.url, server.token, rcvbuf=rcvbuf)
    while not ws.recv().startswith("40"):
        pass  # skip anything before the Socket.IO connect answer
    return ws


def read_until(ws: websocket.WebSocket, predicate: Callable[[str], bool], timeout: float) -> list[str]:
    """Read messages (answering pings) until one satisfies ``predicate``; return all read."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching message within {timeout}s ({len(seen)} read)")
        ws.settimeout(remaining)
        message = ws.recv()
        seen.append(message)
        if message == "2":
            ws.send("3")
        if predicate(message):
            return seen


# -- processes that are none of the server's business -----------------------------------------
class Stranger:
    """A ``sleep`` process the server did not start; it must never be signalled."""

    def __init__(self, seconds: int = 300) -> None:
        self.proc = subprocess.Popen(["sleep", str(seconds)], stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Hammer:
    """Threads that keep calling the API and record every status; a 500 is a failure."""

    PATHS = ("/healthz", "/api/state", "/api/locks", "/api/tasks", "/api/state?source=manager")

    def __init__(self, srv: Server, threads: int = 2, spawn: bool = False) -> None:
        self.srv = srv
        self.spawn = spawn
        self.stopping = threading.Event()
        self.statuses: dict[int, int] = {}
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def _run(self, index: int) -> None:
        session = token_session(self.srv.token)
        n = 0
        while not self.stopping.is_set():
            n += 1
            if self.spawn and index == 0 and n % 4 == 0:
                method, path, body = "POST", "/api/workers", {"task": "sleep", "params": {"seconds": 0}}
            else:
                method, path, body = "GET", self.PATHS[n % len(self.PATHS)], None
            try:
                response = session.request(method, self.srv.url + path, json=body, timeout=15)
            except requests.RequestException as exc:
                with self.lock:
                    self.failures.append(f"{method} {path}: {exc!r}")
                continue
            with self.lock:
                self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500 and response.status_code != 503:
                    self.failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            if method == "POST" and response.status_code == 201:
                for info in response.json()["workers"]:
                    self.srv.track(info["pid"])
        session.close()

    def stop(self) -> dict[int, int]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)
        assert not self.failures, "\n".join(self.failures[:10])
        return self.statuses
