"""The real parts the reliability, security and fuzz tests (and ``chaos/run.py``) drive.

* :class:`Server` is one ``python -m webapp --port 0`` subprocess. ``stop()`` records every
  descendant (Manager, forkserver, workers), sends SIGTERM and asserts that all of them are
  gone; ``kill_hard()`` SIGKILLs the server and returns what outlived it by 2 s.
* :class:`Watcher` is a python-socketio client over a websocket that rebuilds the shared
  state (through :class:`sharedstate.replica.StateReplica`) and the worker table from
  ``snapshot``, ``changes`` and ``workers`` events only.
* :func:`stuck_client` is a raw websocket that completes the Socket.IO connect and then
  stops reading.
* ``servers`` is the fixture factory: ``servers(*args, **options)`` starts a server that is
  stopped and checked at the end of the test.

Nothing here is a mock: every check reads the server's API, its processes or ``/proc``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import engineio
import psutil
import pytest
import requests
import socketio
import websocket
from support import is_alive, wait_for

from sharedstate.replica import StateReplica

REPO = Path(__file__).resolve().parents[1]
RUNNING_AT = re.compile(r"mpscope running at (http://\S+)")
TOKEN_LINE = re.compile(r"open \S+/\?token=(\S+)")
LIVE = ("starting", "running")
PING_INTERVAL = 25  # Engine.IO's default, which the app keeps
WEBSOCKET_TIMEOUT = 45  # webapp/serving.py: a silent websocket peer is dropped after this
ENDED = ("exited", "killed")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state letter, ppid)`` from ``/proc/PID/stat``, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return fields[0], int(fields[1])


def zombies_under(pids: set[int]) -> list[int]:
    """Every zombie in ``/proc`` whose parent is one of ``pids``: children nobody reaped."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None and stat[0] == "Z" and stat[1] in pids:
                found.append(int(entry))
    return found


def key(value: Any) -> str:
    """A hashable identity for an encoded dict key (encoded keys may be JSON objects)."""
    if type(value) is str:  # the common case, kept cheap: a storm applies ~35,000 changes/s
        return "s" + value
    return "j" + json.dumps(value, sort_keys=True)


def dict_of(pairs: list) -> dict[str, Any]:
    """The encoded shared dict (``[[key, value], ...]``) keyed by :func:`key`."""
    return {key(k): v for k, v in pairs}


# -- the server process ---------------------------------------------------------------------
class Server:
    """``python -m webapp --port 0 ...`` in a subprocess, with a REST session and process checks."""

    def __init__(
        self,
        log_dir: Path,
        *args: str,
        max_workers: int = 8,
        rate_limit: float | None = 0,
        token: str | None = None,
        allow_errors: bool = False,
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.out_path = log_dir / "server.out"
        self.log_path = log_dir / "server.log"
        self.allow_errors = allow_errors
        command = [sys.executable, "-m", "webapp", "--port", "0", "--max-workers", str(max_workers)]
        if rate_limit is not None:
            command += ["--rate-limit", str(rate_limit)]
        if token is not None:
            command += ["--token", token]
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*command, *args], cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=log
            )
        self.pid = self.proc.pid
        self.ps = psutil.Process(self.pid)
        self.tracked: dict[int, psutil.Process] = {}
        self.stopped = False
        try:
            self.url: str = wait_for(self._printed_url, 30, "the server to print its URL")
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])
        printed = TOKEN_LINE.search(self.out_path.read_text())
        self.token = token or (printed.group(1) if printed else None)
        self.session = requests.Session()
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"
        self.track_descendants()

    def _printed_url(self) -> str | None:
        match = RUNNING_AT.search(self.out_path.read_text())
        if match:
            return match.group(1)
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # -- REST -------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        with self.session.request(method, self.url + path, **kwargs) as response:
            _ = response.content
            return response

    def get_json(self, path: str) -> Any:
        response = self.request("GET", path)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def health(self) -> dict:
        return self.get_json("/healthz")

    def state(self, source: str | None = None) -> dict:
        return self.get_json("/api/state" + (f"?source={source}" if source else ""))

    def workers(self) -> dict[int, dict]:
        return {w["pid"]: w for w in self.state()["workers"]}

    def spawn(self, count: int = 1, task: str = "sleep", **params: Any) -> list[dict]:
        response = self.request("POST", "/api/workers", json={"count": count, "task": task, "params": params})
        assert response.status_code == 201, response.text
        workers = response.json()["workers"]
        for info in workers:
            self.track(info["pid"])
        return workers

    def kill(self, pid: Any, sig: str = "KILL") -> requests.Response:
        return self.request("DELETE", f"/api/workers/{pid}", params={"signal": sig})

    def kill_all(self, sig: str = "KILL") -> None:
        response = self.request("DELETE", "/api/workers", params={"state": "running", "signal": sig})
        assert response.status_code == 202, response.text
        wait_for(lambda: self.health()["workers"] == 0, 20, "every worker to end")

    def wait_settled(self, timeout: float = 20.0) -> dict:
        """Wait until no worker runs and the mirror holds all the Manager has; return /api/state."""
        wait_for(lambda: self.health()["workers"] == 0, timeout, "every worker to end")

        def settled() -> dict | None:
            state = self.state()
            return state if state["version"] == self.state("manager")["version"] else None

        return wait_for(settled, timeout, "the mirror to reach the Manager's version")

    # -- processes --------------------------------------------------------------------------
    def descendants(self) -> list[psutil.Process]:
        try:
            return self.ps.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def track(self, pid: int) -> None:
        """Remember a process the server started, to check it is gone after the server."""
        try:
            self.tracked.setdefault(pid, psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass

    def track_descendants(self) -> list[psutil.Process]:
        found = self.descendants()
        for process in found:
            self.tracked.setdefault(process.pid, process)
        return found

    @property
    def manager_pid(self) -> int:
        return self.health()["manager_pid"]

    def helpers(self) -> set[int]:
        """PIDs of the server's own helper processes: forkserver, resource tracker, Manager."""
        manager = self.manager_pid
        found = {manager}
        for process in self.descendants():
            try:
                cmdline = " ".join(process.cmdline())
            except psutil.Error:
                continue
            if "forkserver" in cmdline or "resource_tracker" in cmdline:
                found.add(process.pid)
        return found

    def worker_processes(self) -> set[int]:
        """PIDs of the worker processes really running now (descendants that are not helpers)."""
        helpers = self.helpers()
        return {p.pid for p in self.descendants() if p.pid not in helpers and is_alive(p)}

    def zombies(self) -> list[int]:
        """Zombie children of the server or of any of its descendants."""
        return zombies_under({self.pid} | {p.pid for p in self.descendants()})

    def fds(self) -> int:
        return self.ps.num_fds()

    def threads(self) -> int:
        return self.ps.num_threads()

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def wait_baseline(self, fds: int, threads: int, timeout: float = 15.0) -> None:
        """Wait until the server's open descriptors and threads are back to a baseline."""

        def back() -> bool:
            return self.fds() <= fds and self.threads() <= threads

        try:
            wait_for(back, timeout, "descriptors and threads to return to their baseline")
        except AssertionError:
            raise AssertionError(
                f"fds {self.fds()} (baseline {fds}), threads {self.threads()} (baseline {threads})"
            ) from None

    # -- ending it --------------------------------------------------------------------------
    def errors_logged(self) -> list[str]:
        """Every ERROR record and traceback in the server's log, each with its following lines."""
        found, lines = [], self.log().splitlines()
        for i, line in enumerate(lines):
            if " ERROR " in line or line.startswith("Traceback"):
                found.append("\n".join(lines[i : i + 12]))
        return found

    def stop(self) -> None:
        """Record descendants, SIGTERM, wait; assert a clean exit and that nothing survived."""
        if self.stopped:
            return
        self.stopped = True
        self.session.close()
        self.track_descendants()
        killed = False
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                killed = True
        survivors = self.survivors(10.0)
        assert not survivors, f"processes left behind by the server (now killed): {survivors}"
        assert not killed, "the server ignored SIGTERM for 15 s and was killed"
        assert self.proc.returncode == 0, f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
        if not self.allow_errors:
            errors = self.errors_logged()
            assert not errors, "the server logged errors:\n" + "\n".join(errors[:3])

    def kill_hard(self, within: float = 2.0) -> tuple[list[int], float]:
        """SIGKILL the server; return ``(survivors after `within` s, seconds until all had ended)``."""
        self.stopped = True
        self.session.close()
        self.track_descendants()
        start = time.monotonic()
        self.proc.kill()
        self.proc.wait()
        try:
            wait_for(lambda: not any(is_alive(p) for p in self.tracked.values()), within, "orphans to exit")
        except AssertionError:
            pass
        took = time.monotonic() - start
        return self.survivors(0.0), took

    def survivors(self, timeout: float) -> list[int]:
        """Wait up to ``timeout`` for every tracked process to end; kill and return the rest."""
        try:
            wait_for(lambda: not any(is_alive(p) for p in self.tracked.values()), timeout, "processes to end")
            return []
        except AssertionError:
            alive = [p for p in self.tracked.values() if is_alive(p)]
            for process in alive:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            return sorted(p.pid for p in alive)


@pytest.fixture(name="servers")
def servers_fixture(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: ``servers(*cli_args, max_workers=8, rate_limit=0, token=None)`` -> a started Server.

    Every server it started is stopped and checked (no survivors, clean exit, no errors
    logged) when the test ends.
    """
    started: list[Server] = []

    def start(*args: str, **options: Any) -> Server:
        srv = Server(tmp_path / f"server{len(started)}", *args, **options)
        started.append(srv)
        return srv

    yield start
    failures = []
    for srv in started:
        try:
            srv.stop()
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


class ModuleServer:
    """A server shared by a test module: ``with ModuleServer(...) as srv`` stops and checks it."""

    def __init__(self, *args: str, **options: Any) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="mpscope-rel-")
        self.args, self.options = args, options

    def __enter__(self) -> Server:
        self.server = Server(Path(self.tmp.name), *self.args, **self.options)
        return self.server

    def __exit__(self, *exc: Any) -> None:
        try:
            self.server.stop()
        finally:
            self.tmp.cleanup()


# -- Socket.IO clients ----------------------------------------------------------------------
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


class Watcher:
    """A websocket Socket.IO client that rebuilds state and workers from events, as the page does.

    Events are handled in order (:class:`InOrderClient`); ``changes`` batches wait in
    ``pending`` (keyed by the version they start from) until the one that starts at
    ``version`` is there, and the thread that waits applies them.
    """

    def __init__(
        self, server: Server, connect: bool = True, reconnect: bool = False, **connect_options: Any
    ) -> None:
        self.server = server
        self.cond = threading.Condition()
        self.replica = StateReplica()  # every shared object, replayed by the one replayer
        self.pending: dict[int, dict] = {}
        self.workers: dict[int, dict] = {}
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
        if self.server.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.server.token}"
        self.client.connect(
            self.server.url, transports=["websocket"], wait_timeout=10, headers=headers, **options
        )

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
            if event != "changes":  # changes are applied, not kept: a storm sends many
                self.events.append((event, data))
            if event == "snapshot":
                self.snapshots += 1
                self._load(data)
            elif event == "changes":
                # applied by the thread that waits (see wait()), to keep the read loop quick
                self.pending[data["from"]] = data
            elif event == "workers":
                self._merge(data["workers"])
                for pid in data["removed"]:
                    self.workers.pop(pid, None)
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

    def _drain(self) -> None:
        """Apply the pending batches that follow on from ``version``; drop those already in it."""
        if self.version is None:
            return
        while (batch := self.pending.pop(self.version, None)) is not None:
            self.replica.add(batch)  # it follows on, so the replica applies it at once
        for start in [start for start, batch in self.pending.items() if batch["to"] <= self.version]:
            del self.pending[start]

    def received(self, event: str) -> list[Any]:
        with self.cond:
            return [data for name, data in self.events if name == event]

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
        return self.client.call(event, data, timeout=timeout)

    def close(self) -> None:
        self.client.shutdown()
        ws = getattr(self.client.eio, "ws", None)
        if ws is not None:  # when the server ended the connection, nobody closed its socket
            ws.shutdown()


def assert_same_state(server: Server, watchers: list[Watcher], timeout: float = 20.0) -> dict:
    """Wait for quiet, then assert Manager == /api/state == every watcher; return the figures."""
    state = server.wait_settled(timeout)
    manager = server.state("manager")
    assert state["version"] == manager["version"]
    assert state["list"] == manager["list"], "the mirror's list differs from the Manager's"
    assert dict_of(state["dict"]) == dict_of(manager["dict"]), "the mirror's dict differs from the Manager's"
    table = {w["pid"]: (w["state"], w["signal"], w["exitcode"]) for w in state["workers"]}
    for watcher in watchers:
        watcher.wait_version(state["version"], timeout)

        def same_table(watcher: Watcher = watcher) -> bool:
            seen = {pid: (w["state"], w["signal"], w["exitcode"]) for pid, w in watcher.workers.items()}
            return seen == table

        watcher.wait(same_table, timeout, "the client's worker table to match /api/state")
        with watcher.cond:
            assert watcher.version == state["version"]
            assert watcher.list == state["list"], "a client's list differs from /api/state"
            assert watcher.dict == dict_of(state["dict"]), "a client's dict differs from /api/state"
            replayed = {oid: obj["value"] for oid, obj in watcher.replica.described().items()}
            served = {oid: obj["value"] for oid, obj in state["objects"].items()}
            assert replayed == served, "a client's shared objects differ from /api/state"
    return {"version": state["version"], "list": len(state["list"]), "dict": len(state["dict"])}


def stuck_client(server: Server, rcvbuf: int = 4096) -> websocket.WebSocket:
    """A raw websocket that completes the Engine.IO and Socket.IO connect, then reads nothing.

    Its receive buffer is small, so the server's sends back up after a few kilobytes.
    """
    host = server.url.removeprefix("http://")
    ws = websocket.create_connection(
        f"ws://{host}/socket.io/?EIO=4&transport=websocket",
        timeout=10,
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)],
        header=[f"Authorization: Bearer {server.token}"] if server.token else None,
    )
    opening = ws.recv()
    assert opening.startswith("0{"), opening
    ws.send("40")
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


def chromium_or_skip() -> None:
    """Skip when there is no system Chromium, unless REQUIRE_BROWSER=1 asks for a failure."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM} does not exist")
    pytest.skip(f"{CHROMIUM} is not installed")


# -- scenarios: shared by the fast tests (short) and chaos/run.py (long) ---------------------
def burst_losses(pairs: list, keys: int) -> tuple[int, int]:
    """Check the ``burst`` keys of killed workers; return ``(mutations checked, lost)``.

    A burst worker writes ``d[f"{pid}:{i % keys}"] = i`` for i = 0, 1, 2, ... and waits for
    each write to be acknowledged before the next. So after its last acknowledged write ``M``
    its keys hold exactly the values ``M-keys+1 .. M``: any other picture means a change the
    Manager acknowledged was lost (or one never made appeared).
    """
    by_pid: dict[str, dict[int, int]] = {}
    for k, v in pairs:
        if isinstance(k, str) and ":" in k:
            pid, index = k.split(":")
            by_pid.setdefault(pid, {})[int(index)] = v
    checked = lost = 0
    for slots in by_pid.values():
        last = max(slots.values())
        expected = {i % keys: i for i in range(max(0, last - keys + 1), last + 1)}
        lost += sum(1 for index, value in expected.items() if slots.get(index) != value)
        lost += len(set(slots) - set(expected))
        checked += last + 1
    return checked, lost


def kill_storm(srv: Server, seconds: float, workers: int = 8, keys: int = 20, clients: int = 2) -> dict:
    """SIGKILL random ``burst`` workers (replacing each) for ``seconds``; check nothing was lost.

    Each kill waits until the state moved on by a random number of changes, so kills land
    at random points of the workers' writes. Returns the figures for the report.
    """
    rng = random.Random()
    watchers = [Watcher(srv, reconnect=True) for _ in range(clients)]
    try:
        srv.spawn(1, "burst", n=10, keys=keys)  # warm up: everything lazily created exists now
        srv.wait_settled()
        base_fds, base_threads = srv.fds(), srv.threads()
        params = {"n": 10_000_000, "keys": keys}
        live = [w["pid"] for w in srv.spawn(workers, "burst", **params)]
        killed: list[int] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            target = srv.health()["version"] + rng.randint(1, 2000)
            wait_for(lambda t=target: srv.health()["version"] >= t, 10, "the workers to write")
            victim = live.pop(rng.randrange(len(live)))
            response = srv.kill(victim, "KILL")
            assert response.status_code == 202, response.text
            killed.append(victim)
            wait_for(lambda v=victim: srv.get_json(f"/api/workers/{v}")["state"] in ENDED, 10, "the reap")
            live += [w["pid"] for w in srv.spawn(1, "burst", **params)]
        for pid in live:
            assert srv.kill(pid, "KILL").status_code == 202
        killed += live
        figures = assert_same_state(srv, watchers, timeout=max(20.0, seconds * 2))
        table = srv.workers()
        for pid in killed:
            info = table[pid]
            assert (info["state"], info["signal"]) == ("killed", "SIGKILL"), info
            assert not is_alive(srv.tracked[pid]), f"worker {pid} still runs"
        wait_for(lambda: not srv.zombies(), 5, "no zombies")
        checked, lost = burst_losses(srv.state("manager")["dict"], keys)
        assert lost == 0, f"{lost} acknowledged changes lost"
        # a client that reconnected leaves Engine.IO's ping thread asleep for up to 25 s
        reconnected = any(w.connects > 1 for w in watchers)
        srv.wait_baseline(base_fds, base_threads, timeout=PING_INTERVAL + 15 if reconnected else 15)
        return {
            "seconds": seconds,
            "workers_killed": len(killed),
            "mutations_checked": checked,
            "lost_acknowledged_changes": lost,
            "clients": clients,
            "client_reconnects": sum(w.connects - 1 for w in watchers),
            "zombies": len(srv.zombies()),
            "fd_drift": srv.fds() - base_fds,
            "thread_drift": srv.threads() - base_threads,
            "state_version": figures["version"],
        }
    finally:
        for watcher in watchers:
            watcher.close()


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
        session = requests.Session()
        if self.srv.token:
            session.headers["Authorization"] = f"Bearer {self.srv.token}"
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


def kill_manager(srv: Server, watcher: Watcher, rounds: int = 1) -> dict:
    """SIGKILL the Manager ``rounds`` times under load; check restart, restore and restarted workers."""
    srv.spawn(1, "burst", n=500, keys=500)
    before = srv.wait_settled()
    tickers = [w["pid"] for w in srv.spawn(2, "append_pid", interval=0.05)]
    hammer = Hammer(srv, spawn=True)
    noticed = []

    def manager_events(state: str) -> list[dict]:
        return [m for m in watcher.received("manager") if m["state"] == state]

    def restarted_from(old: list[int]) -> list[dict] | None:
        found = [w for w in srv.workers().values() if w["restarted_from"] in old and w["state"] in LIVE]
        return found if len(found) == len(old) else None

    try:
        for n in range(1, rounds + 1):
            old_pid = srv.manager_pid
            version = srv.health()["version"]
            wait_for(lambda v=version: srv.health()["version"] > v + 4, 10, "the tickers to write")
            seen = len(manager_events("restarting"))
            killed_at = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)
            watcher.wait(lambda s=seen: len(manager_events("restarting")) > s, 5, "a manager event")
            noticed.append(time.monotonic() - killed_at)
            health = wait_for(lambda n=n: (h := srv.health())["manager_restarts"] == n and h, 10, "a restart")
            assert health["manager_pid"] not in (old_pid, None), health
            shown = {"pid": health["manager_pid"], "restarts": n, "state": "running"}
            watcher.wait(lambda s=shown: s in manager_events("running"), 10, "the running event")
            restarted = wait_for(lambda t=tickers: restarted_from(t), 10, "the restarted workers")
            table = srv.workers()
            assert all(table[pid]["state"] in ENDED for pid in tickers)
            tickers = [w["pid"] for w in restarted]
            for pid in tickers:
                srv.track(pid)
    finally:
        statuses = hammer.stop()
    for pid in tickers:
        assert srv.kill(pid, "KILL").status_code == 202
    state = assert_same_state(srv, [watcher])
    after = dict_of(srv.state("manager")["dict"])
    for k, v in dict_of(before["dict"]).items():  # the burst's entries came through every restart
        assert after.get(k) == v, f"{k} lost in the restart"
    return {
        "manager_kills": rounds,
        "noticed_within_s": round(max(noticed), 3),
        "statuses": statuses,
        "state_version": state["version"],
    }


def server_kill(srv: Server) -> dict:
    """Start workers of every kind, SIGKILL the server: every descendant must exit within 2 s."""
    srv.spawn(2, "append_pid", interval=0.05)
    srv.spawn(1, "hold_lock", lock="held", seconds=3600)
    srv.spawn(1, "hold_lock", lock="held", seconds=1)  # waits for the lock
    srv.spawn(1, "printer", lines=1_000_000, interval=0.01)
    srv.spawn(1, "burst", n=10_000_000, rate=1000.0)
    srv.spawn(1, "sleep", seconds=3600)
    srv.spawn(1, "cpu", seconds=3600)
    watcher = Watcher(srv)
    try:
        wait_for(lambda: all(w["state"] == "running" for w in srv.workers().values()), 10, "running workers")
        wait_for(lambda: srv.get_json("/api/locks")["locks"][0]["waiters"], 10, "a lock waiter")
        processes = len(srv.track_descendants())
        survivors, took = srv.kill_hard(within=2.0)
    finally:
        watcher.close()
    assert not survivors, f"orphans still running 2 s after the server was SIGKILLed: {survivors}"
    return {"processes": processes, "orphans": len(survivors), "all_gone_after_s": round(took, 3)}


def short_workers(srv: Server, total: int, batch: int, cap: int) -> dict:
    """Spawn and end ``total`` short workers; the table keeps ``cap`` ended, memory stays flat.

    ``srv`` must run with ``--ended-cap cap`` and ``--max-workers >= batch``.
    """
    watcher = Watcher(srv)
    try:
        done = 0

        def run_batch() -> int:
            srv.spawn(batch, "sleep", seconds=0)
            wait_for(lambda: srv.health()["workers"] == 0, 20, "the batch to end")
            return batch

        while done < min(total, 2 * cap):  # warm up, and fill the table to its cap
            done += run_batch()
        base_fds, base_threads, base_rss = srv.fds(), srv.threads(), srv.rss()
        while done < total:
            done += run_batch()
        state = srv.state()
        ended = [w for w in state["workers"] if w["state"] in ENDED]
        assert state["limits"]["ended_cap"] == cap
        assert len(ended) == min(cap, done), f"{len(ended)} ended workers kept, cap {cap}"
        kept = {w["pid"] for w in ended}
        watcher.wait(lambda: set(watcher.workers) == kept, 10, "the client's table to match")
        newest_dropped = max((t for pid, t in watcher.ended_at.items() if pid not in kept), default=0)
        assert newest_dropped <= min(w["ended_at"] for w in ended), "a newer worker was dropped first"
        srv.wait_baseline(base_fds, base_threads)
        wait_for(lambda: not srv.zombies(), 5, "no zombies")
        growth = srv.rss() - base_rss
        return {
            "workers": done,
            "ended_kept": len(ended),
            "ended_cap": cap,
            "rss_growth_mib": round(growth / 2**20, 1),
            "rss_mib": round(srv.rss() / 2**20, 1),
            "fd_drift": srv.fds() - base_fds,
            "thread_drift": srv.threads() - base_threads,
            "zombies": len(srv.zombies()),
        }
    finally:
        watcher.close()


def spawn_storm(srv: Server, total: int, max_workers: int, sockets: int = 4, threads: int = 48) -> dict:
    """Fire ``total`` spawn and kill requests at once, over REST and Socket.IO.

    Checks: each gets a definite answer (201/409 or 202/404), no more than ``max_workers``
    worker processes ever run (sampled from /proc all along), and afterwards the worker
    table's live PIDs are exactly the worker processes that run.
    """
    rng = random.Random()
    clients = [Watcher(srv) for _ in range(sockets)]
    helpers = srv.helpers()
    known: list[int] = []
    answers: dict[str, int] = {}
    most = 0
    stop = threading.Event()
    lock = threading.Lock()

    def sample() -> None:
        nonlocal most
        while not stop.is_set():
            running = sum(1 for p in srv.descendants() if p.pid not in helpers and is_alive(p))
            most = max(most, running)

    def spawn_body() -> dict:
        seconds = rng.choice([0.0, 0.05, 0.3, 30.0])
        return {"count": rng.randint(1, 3), "task": "sleep", "params": {"seconds": seconds}}

    def job(kind: str) -> str:
        if kind == "rest-spawn":
            response = srv.request("POST", "/api/workers", json=spawn_body())
            status, body = response.status_code, response.json()
        elif kind == "socket-spawn":
            body = rng.choice(clients).call("spawn", spawn_body())
            status = body["status"]
        else:
            with lock:
                pid = rng.choice(known) if known else 1
            if kind == "rest-kill":
                response = srv.kill(pid, rng.choice(["KILL", "TERM"]))
                status, body = response.status_code, response.json()
            else:
                body = rng.choice(clients).call("kill", {"pid": pid, "signal": "KILL"})
                status = body["status"]
        expected = (201, 409) if kind.endswith("spawn") else (202, 404)
        assert status in expected, f"{kind}: {status} {body}"
        if status == 201:
            with lock:
                for info in body["workers"]:
                    known.append(info["pid"])
                    srv.track(info["pid"])
        return f"{kind} {status}"

    kinds = ["rest-spawn"] * 45 + ["socket-spawn"] * 35 + ["rest-kill"] * 10 + ["socket-kill"] * 10
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(job, [rng.choice(kinds) for _ in range(total)]))
        for result in results:
            answers[result] = answers.get(result, 0) + 1

        def table_matches() -> bool:
            live = {w["pid"] for w in srv.state()["workers"] if w["state"] in LIVE}
            return live == {p.pid for p in srv.descendants() if p.pid not in helpers and is_alive(p)}

        wait_for(table_matches, 10, "the worker table to match the running processes")
        srv.kill_all("KILL")
    finally:
        stop.set()
        sampler.join(10)
        for client in clients:
            client.close()
    assert most <= max_workers, f"{most} workers ran at once, --max-workers {max_workers}"
    wait_for(lambda: not srv.worker_processes(), 10, "every worker process to end")
    assert all(w["state"] in ENDED for w in srv.state()["workers"])
    wait_for(lambda: not srv.zombies(), 5, "no zombies")
    return {"requests": total, "answers": answers, "spawned": len(known), "most_running": most}


def stuck_clients(srv: Server, seconds: float, stuck: int = 1, workers: int = 4) -> dict:
    """Clients that stop reading while burst workers write flat out for ``seconds``.

    Checks: a reading client keeps up (it catches up as soon as the writes stop), the
    server answers promptly all along, its memory stops growing once the stuck clients'
    queues are full, and a stuck client that reads again is sent a fresh snapshot.
    """
    watcher = Watcher(srv)
    srv.spawn(1, "burst", n=10, keys=10)
    srv.wait_settled()
    base_fds, base_threads = srv.fds(), srv.threads()
    raws = [stuck_client(srv) for _ in range(stuck)]
    try:
        pids = [w["pid"] for w in srv.spawn(workers, "burst", n=10_000_000, keys=5000)]
        started = time.monotonic()
        slowest = 0.0
        rss_half = None
        while (elapsed := time.monotonic() - started) < seconds:
            t = time.monotonic()
            srv.health()
            slowest = max(slowest, time.monotonic() - t)
            if rss_half is None and elapsed >= seconds / 2:
                rss_half = srv.rss()
        rss_end = srv.rss()
        for pid in pids:
            assert srv.kill(pid, "KILL").status_code == 202
        stopped = time.monotonic()
        version = srv.wait_settled()["version"]
        watcher.wait_version(version, 15)
        caught_up = time.monotonic() - stopped
        held_back = srv.log().count("is not reading")
        assert held_back >= len(raws), "a stuck client was never held back"
        resynced = 0
        for ws in raws:  # read again: a snapshot comes once the backlog drained
            read_until(ws, lambda m: m.startswith('42["snapshot"'), 30)
            resynced += 1
    finally:
        for ws in raws:
            ws.close()
        watcher.close()
    srv.wait_baseline(base_fds, base_threads)
    return {
        "seconds": seconds,
        "stuck_clients": stuck,
        "slowest_healthz_s": round(slowest, 3),
        "reader_caught_up_after_s": round(caught_up, 3),
        "rss_growth_second_half_mib": round((rss_end - (rss_half or rss_end)) / 2**20, 1),
        "rss_mib": round(rss_end / 2**20, 1),
        "held_back": held_back,
        "resynced_with_snapshot": resynced,
        "state_version": version,
    }


def reconnect_loop(
    srv: Server, clients: int, seconds: float, settle_threads: bool = False, abandoned: int = 0
) -> dict:
    """``clients`` Socket.IO clients connect, take their snapshot and disconnect, in a loop,
    while a worker writes: the server stays responsive, and its descriptors (at once) and
    threads come back once they are gone.

    Engine.IO (threading mode) gives each connection a ping thread that sleeps
    ``PING_INTERVAL`` seconds and cannot be woken, so each closed connection leaves one
    sleeping thread for up to 25 s: right after the loop the server may have up to one
    extra thread per connection made, and only ``settle_threads`` waits them out.

    ``abandoned`` raw clients connect at the end and then neither read, send nor close:
    with ``settle_threads`` the server must free them too (its websocket timeout, 45 s).
    """
    probe = Watcher(srv)
    probe.close()  # warm up the Socket.IO machinery before the baseline
    writer = srv.spawn(1, "burst", n=10_000_000, rate=500.0, keys=200)[0]["pid"]
    wait_for(lambda: srv.health()["version"] > 10, 10, "the writer")
    base_fds, base_threads = srv.fds(), srv.threads()
    raws = [stuck_client(srv) for _ in range(abandoned)]  # silent from now on
    stop = threading.Event()
    connections = [0] * clients
    errors: list[str] = []

    def loop(index: int) -> None:
        while not stop.is_set():
            try:
                watcher = Watcher(srv)
                try:
                    watcher.wait(lambda w=watcher: w.snapshots, 15, "a snapshot")
                finally:
                    watcher.close()
                connections[index] += 1
            except Exception as exc:  # noqa: BLE001 -- recorded, and the test fails on it
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        slowest, samples = 0.0, []
        while (elapsed := time.monotonic() - started) < seconds:
            t = time.monotonic()
            srv.health()
            slowest = max(slowest, time.monotonic() - t)
            samples.append((elapsed, srv.rss()))
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not errors, errors[:5]
        assert srv.kill(writer, "KILL").status_code == 202
        srv.wait_settled()
        made = sum(connections)
        # an abandoned client holds a descriptor and up to 4 threads until it times out; a few
        # more may be on their way out (a request handler finishing, a lagging-client recheck)
        srv.wait_baseline(base_fds + abandoned, base_threads + made + 4 * abandoned + 4, timeout=15)
        lingering = srv.threads() - base_threads
        if settle_threads:
            srv.wait_baseline(base_fds, base_threads, timeout=WEBSOCKET_TIMEOUT + 20)
    finally:
        stop.set()
        for ws in raws:
            ws.close()
    third = [rss for elapsed, rss in samples if elapsed >= seconds * 2 / 3]
    middle = [rss for elapsed, rss in samples if seconds / 3 <= elapsed < seconds * 2 / 3]
    return {
        "clients": clients,
        "seconds": seconds,
        "connections": made,
        "lingering_ping_threads": lingering,
        "abandoned_clients_freed": abandoned if settle_threads else 0,
        "slowest_healthz_s": round(slowest, 3),
        "rss_growth_last_third_mib": round((max(third) - max(middle)) / 2**20, 1) if middle else 0.0,
        "rss_mib": round(srv.rss() / 2**20, 1),
        "fd_drift": srv.fds() - base_fds,
        "thread_drift": srv.threads() - base_threads,
    }


# -- headless Chromium ---------------------------------------------------------------------------
@pytest.fixture(name="chromium")
def chromium_fixture(browser: Any) -> Any:
    """The session's one headless Chromium (browser_support's ``browser``, registered in conftest):
    two sync Playwright instances cannot run in one process."""
    return browser


class Page:
    """A dashboard page in a fresh context that records JS errors, dialogs and CSP violations."""

    def __init__(self, chromium: Any, url: str) -> None:
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " (e) => window.__violations.push(e.violatedDirective));"
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        self.page.goto(url)

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__violations")

    def close(self) -> None:
        self.context.close()


def soak(srv: Server, seconds: float, clients: int = 3, keys: int = 20) -> dict:
    """Everything at once for ``seconds``: writers, printers, lock users, kills by SIGKILL and
    SIGTERM, replacements; then clients == /api/state == Manager and nothing leaked.

    A short first round (not counted) makes the server open what it opens once, such as a
    long-lived thread's Manager connection, before the descriptor and thread baseline.
    """
    rng = random.Random()
    watchers = [Watcher(srv, reconnect=True) for _ in range(clients)]
    kinds = [
        ("burst", {"n": 10_000_000, "keys": keys}),
        ("burst", {"n": 10_000_000, "rate": 2000.0, "keys": keys}),
        ("burst", {"n": 10_000_000, "rate": 500.0, "keys": keys}),
        ("printer", {"lines": 1_000_000, "interval": 0.001, "stream": "both"}),
        ("counter", {"n": 1_000_000, "lock": True}),
        ("append_pid", {"interval": 0.01}),
        ("crash", {"seconds": 0.05}),
        ("sleep", {"seconds": 0.1}),
    ]

    def round_of(duration: float) -> tuple[int, int]:
        killed = spawned = 0
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            live = [w for w in srv.state()["workers"] if w["state"] in LIVE]
            if len(live) < 12:
                task, params = rng.choice(kinds)
                response = srv.request("POST", "/api/workers", json={"task": task, "params": params})
                assert response.status_code in (201, 409), response.text
                if response.status_code == 201:
                    spawned += 1
                    srv.track(response.json()["workers"][0]["pid"])
            if live and rng.random() < 0.4:
                response = srv.kill(rng.choice(live)["pid"], rng.choice(["KILL", "KILL", "TERM"]))
                assert response.status_code in (202, 404), response.text
                killed += response.status_code == 202
        srv.kill_all("KILL")
        # a counter killed inside `with lock` leaves the lock held by a dead PID: release it
        for lock in srv.get_json("/api/locks")["locks"]:
            if lock["holder_pid"] is not None:
                assert lock["holder_alive"] is False, lock
                assert srv.request("POST", f"/api/locks/{lock['name']}/release").status_code == 200
        return spawned, killed

    try:
        # warm up: a lock waiter that dies makes the monitor thread open its Manager
        # connection (kept for the thread's life), then one short round of everything
        def lock() -> dict:
            found = [lk for lk in srv.get_json("/api/locks")["locks"] if lk["name"] == "warm-up"]
            return found[0] if found else {"holder_pid": None, "waiters": []}

        holder = srv.spawn(1, "hold_lock", lock="warm-up", seconds=3600)[0]["pid"]
        wait_for(lambda: lock()["holder_pid"] == holder, 10, "the holder")
        waiter = srv.spawn(1, "hold_lock", lock="warm-up", seconds=0)[0]["pid"]
        wait_for(lambda: waiter in lock()["waiters"], 10, "the waiter")
        assert srv.kill(waiter, "KILL").status_code == 202
        wait_for(lambda: not lock()["waiters"], 10, "the dead waiter to be forgotten")
        assert srv.kill(holder, "KILL").status_code == 202
        round_of(min(3.0, seconds / 4))
        srv.wait_settled()
        base_fds, base_threads = srv.fds(), srv.threads()
        spawned, killed = round_of(seconds)
        figures = assert_same_state(srv, watchers, timeout=max(20.0, seconds * 2))
        checked, lost = burst_losses(srv.state("manager")["dict"], keys)
        assert lost == 0, f"{lost} acknowledged changes lost"
        wait_for(lambda: not srv.zombies(), 5, "no zombies")
        # a client that reconnected leaves Engine.IO's ping thread asleep for up to 25 s
        reconnected = any(w.connects > 1 for w in watchers)
        srv.wait_baseline(base_fds, base_threads, timeout=PING_INTERVAL + 15 if reconnected else 15)
        return {
            "seconds": seconds,
            "workers_spawned": spawned,
            "workers_killed": killed,
            "mutations_checked": checked,
            "lost_acknowledged_changes": lost,
            "clients": clients,
            "client_reconnects": sum(w.connects - 1 for w in watchers),
            "zombies": len(srv.zombies()),
            "fd_drift": srv.fds() - base_fds,
            "thread_drift": srv.threads() - base_threads,
            "state_version": figures["version"],
        }
    finally:
        for watcher in watchers:
            watcher.close()
