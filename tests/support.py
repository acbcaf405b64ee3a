"""Helpers for the mpscope tests: the server process, a REST client, a Socket.IO client, wait_for.

Everything here drives real parts: a ``python -m webapp`` subprocess, its Manager and worker
processes, HTTP through requests, and Socket.IO over a websocket. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import requests
import socketio

from sharedstate.replica import StateReplica

REPO = Path(__file__).resolve().parents[1]
URL = re.compile(r"http://127\.0\.0\.1:\d+")
MAX_WORKERS = 8
MARK = "MPSCOPE_TEST_SERVER"  # set in each test server's environment, inherited by all it starts
LIVE = ("starting", "running")
ENDED = ("exited", "killed")


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    interval = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 2, 0.05)


def is_alive(process: psutil.Process) -> bool:
    """True while ``process`` (that very process, not a PID reuse) runs; zombies count as ended."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def key(value: Any) -> str:
    """A hashable identity for an encoded dict key (encoded keys may be JSON objects)."""
    return json.dumps(value, sort_keys=True)


# -- the server process -------------------------------------------------------------------
class ServerProcess:
    """``python -m webapp --port 0`` in a subprocess, stopped with SIGTERM and checked for leftovers."""

    base_command: tuple[str, ...] = (sys.executable, "-m", "webapp")

    def __init__(self, log_dir: Path, max_workers: int = MAX_WORKERS, *extra_args: str) -> None:
        self.out_path = log_dir / "server.out"
        self.log_path = log_dir / "server.log"
        command = [*self.base_command, "--port", "0", "--max-workers", str(max_workers)]
        self.mark = uuid.uuid4().hex
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*command, *extra_args],
                cwd=REPO,
                env={**os.environ, MARK: self.mark},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
            )
        self.pid = self.proc.pid
        self.ps = psutil.Process(self.pid)
        self.tracked: dict[int, psutil.Process] = {}
        self.url = wait_for(self._ready, timeout=30, what="the server to print its URL")
        self.track_descendants()

    def _ready(self) -> str | None:
        match = URL.search(self.out_path.read_text())
        if match:
            return match.group(0)
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def descendants(self) -> list[psutil.Process]:
        try:
            return self.ps.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def marked(self) -> list[psutil.Process]:
        """Every live process carrying this server's environment mark, wherever it was reparented."""
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(MARK) == self.mark and is_alive(process):
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass
        return found

    def track(self, pid: int) -> None:
        """Remember a process the server started, to check it is gone after the server."""
        # psutil.Process(None) would be this test process: never track (and later kill) that
        assert type(pid) is int and pid > 1 and pid != os.getpid(), f"not a process to track: {pid!r}"
        try:
            self.tracked.setdefault(pid, psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass

    def track_descendants(self) -> list[psutil.Process]:
        found = self.descendants()
        for process in found:
            self.tracked.setdefault(process.pid, process)
        return found

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the server and wait for it; kill it (and fail) if it does not stop in time."""
        self.track_descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored signal {sig} for {timeout}s and was killed") from None
        return self.proc.returncode

    def leftovers(self, timeout: float = 10.0) -> list[psutil.Process]:
        """Wait for every recorded or marked process to end; kill and return those that do not."""

        def alive() -> list[psutil.Process]:
            found = {p.pid: p for p in self.tracked.values() if is_alive(p)}
            found.update({p.pid: p for p in self.marked()})
            return list(found.values())

        try:
            wait_for(lambda: not alive(), timeout=timeout, what="the server's processes to end")
            return []
        except AssertionError:
            left = alive()
            for process in left:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            return left

    def stop(self) -> None:
        """Teardown: SIGTERM, wait, then assert a clean exit and that no descendant survived."""
        code = self.terminate()
        left = self.leftovers()
        assert not left, f"processes left behind (now killed): {[p.pid for p in left]}"
        assert code == 0, f"server exited with {code}:\n{self.log()[-3000:]}"
        errors = [line for line in self.log().splitlines() if " ERROR " in line or "Traceback" in line]
        assert not errors, "server logged errors:\n" + "\n".join(errors)


# -- the REST helper ----------------------------------------------------------------------
class Api:
    """Small requests-based client for one server's JSON API."""

    def __init__(self, srv: ServerProcess) -> None:
        self.server = srv
        self.url = srv.url
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        with self.session.request(method, self.url + path, **kwargs) as response:
            _ = response.content  # read it all so the connection goes back to the pool
            return response

    def get_json(self, path: str, status: int = 200) -> Any:
        response = self.request("GET", path)
        assert response.status_code == status, response.text
        return response.json()

    def health(self) -> dict:
        return self.get_json("/healthz")

    def state(self, source: str | None = None) -> dict:
        return self.get_json("/api/state" + (f"?source={source}" if source else ""))

    def version(self) -> int:
        return self.health()["version"]

    def spawn(self, count: int = 1, task: str | None = None, **params: Any) -> list[dict]:
        """Start ``count`` workers (expects 201) and return their infos."""
        body: dict[str, Any] = {"count": count}
        if task is not None:
            body["task"] = task
        if params:
            body["params"] = params
        response = self.request("POST", "/api/workers", json=body)
        assert response.status_code == 201, response.text
        workers = response.json()["workers"]
        for info in workers:
            self.server.track(info["pid"])
        return workers

    def kill(self, pid: Any, sig: str | None = None) -> requests.Response:
        return self.request("DELETE", f"/api/workers/{pid}", params={"signal": sig} if sig else None)

    def workers(self) -> dict[int, dict]:
        return {w["pid"]: w for w in self.state()["workers"]}

    def worker(self, pid: int) -> dict:
        return self.get_json(f"/api/workers/{pid}")

    def wait_worker(self, pid: int, states: tuple[str, ...], timeout: float = 10.0) -> dict:
        """Wait until worker ``pid`` is in one of ``states``; return its info."""

        def reached() -> dict | None:
            info = self.worker(pid)
            return info if info["state"] in states else None

        return wait_for(reached, timeout, what=f"worker {pid} to be {'/'.join(states)}")

    def wait_all_ended(self, pids: list[int], timeout: float = 30.0) -> list[dict]:
        return [self.wait_worker(pid, ENDED, timeout) for pid in pids]

    def wait_version(self, version: int, timeout: float = 10.0) -> dict:
        """Wait until the server's mirror (what /api/state serves) reached ``version``."""
        return wait_for(
            lambda: (s := self.state())["version"] >= version and s,
            timeout,
            what=f"state version {version}",
        )

    def reset(self) -> None:
        """Kill every worker, wait until none is live, empty the state and forget ended workers."""
        response = self.request("DELETE", "/api/workers", params={"state": "running", "signal": "KILL"})
        assert response.status_code == 202, response.text
        wait_for(lambda: self.health()["workers"] == 0, 15, what="all workers to end")
        response = self.request("POST", "/api/state/reset")
        assert response.status_code == 200, response.text
        state = self.wait_version(response.json()["version"])
        assert state["list"] == [] and state["dict"] == [], state
        response = self.request("DELETE", "/api/workers", params={"state": "ended"})
        assert response.status_code == 200, response.text


# -- the Socket.IO client -----------------------------------------------------------------
class Replica(StateReplica):
    """The shared state rebuilt only from ``snapshot`` and ``changes`` events, as a page does."""

    def pairs(self) -> list[list]:
        return self.dict


STATE_RANK = {"starting": 0, "running": 1, "exited": 2, "killed": 2}


class LiveClient:
    """A websocket Socket.IO client that records every event and keeps a Replica up to date."""

    def __init__(self, url: str) -> None:
        self.cond = threading.Condition()
        self.events: list[tuple[str, Any]] = []
        self.replica = Replica()
        self.workers: dict[int, dict] = {}
        self.removed: set[int] = set()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._on_event)
        self.client.connect(url, transports=["websocket"], wait_timeout=10)

    def _on_event(self, event: str, data: Any = None) -> None:
        with self.cond:
            self.events.append((event, data))
            if event == "snapshot":
                self.replica.load(data)
                self._merge_workers(data["workers"])
            elif event == "changes":
                self.replica.add(data)
            elif event == "workers":
                self._merge_workers(data["workers"])
                for pid in data["removed"]:
                    self.workers.pop(pid, None)
                    self.removed.add(pid)
            self.cond.notify_all()

    def _merge_workers(self, infos: list[dict]) -> None:
        for info in infos:
            old = self.workers.get(info["pid"])
            if old is None or STATE_RANK[info["state"]] >= STATE_RANK[old["state"]]:
                self.workers[info["pid"]] = info

    def received(self, name: str) -> list[Any]:
        with self.cond:
            return [data for event, data in self.events if event == name]

    def ops(self) -> list[dict]:
        return [op for batch in self.received("changes") for op in batch["ops"]]

    def wait(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "an event") -> Any:
        """Wait until ``predicate()`` (checked under the client's lock after each event) is truthy."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (value := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(remaining)
            return value

    def call(self, event: str, data: Any = None) -> Any:
        """Emit ``event`` and return the server's acknowledgement."""
        return self.client.call(event, data, timeout=10)

    def close(self) -> None:
        self.client.shutdown()  # disconnects if still connected


def descendant_pids(srv: ServerProcess) -> set[int]:
    return {p.pid for p in srv.descendants() if is_alive(p)}
