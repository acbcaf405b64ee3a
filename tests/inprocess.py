"""The app built in this process, for the fast tests: ``create_app`` with a back end of our choice.

``create_app(config, build=...)`` takes the function that makes the Dashboard. The fast
tests use the real built-in back end (its real Manager and forkserver workers: they are
reaped by :func:`close_app`), or :class:`FakeBackEnd` where no process is needed: routes'
and events' validation, and the answers to a back end's refusals. Everything else in the
app is the real thing: the Dashboard core, the routes, the Socket.IO events, the guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from testkit.waiting import wait_for
from webapp import create_app
from webapp.dashboard import Dashboard
from webapp.process_record import Conflict
from webapp.sockets import socketio
from webapp.state import ManagerUnavailable

# no rate limit (tests send bursts); few workers, so that "over the limit" is cheap to ask for
CONFIG = {"MAX_WORKERS": 4, "RATE_LIMIT": 0}
HELPERS = ("forkserver", "resource_tracker")  # multiprocessing's own, one per process that uses them


class FakeBackEnd:
    """A back end (the BackEnd protocol of webapp/dashboard.py) with no Manager and no processes.

    It records what it was asked; ``refuse`` makes spawn answer as a back end that starts
    no workers does (``Conflict``), and reset and reads of the Manager as one without a
    Manager (``ManagerUnavailable``).
    """

    mode = "builtin"

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.spawned: list[tuple[int, str, dict]] = []
        self.released: list[tuple[str, int]] = []
        self.resets = 0
        self.ended: list[set[int]] = []
        self.stopped = False
        self.closed = False

    def fields(self) -> dict:
        return {"fake": True}

    def manager_info(self) -> dict:
        return {"pid": None, "restarts": 0, "state": "none"}

    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        if self.refuse:
            raise Conflict("this back end starts no workers")
        self.spawned.append((count, task, params))
        return []

    def reset(self) -> int:
        if self.refuse:
            raise ManagerUnavailable("this back end has no Manager")
        self.resets += 1
        return 0

    def manager_contents(self) -> dict:
        if self.refuse:
            raise ManagerUnavailable("this back end has no Manager")
        return {"version": 0, "list": [], "dict": {}, "objects": {}}

    def release(self, oid: str, pid: int) -> None:
        self.released.append((oid, pid))

    def processes_ended(self, pids: set[int]) -> None:
        self.ended.append(pids)

    def pool_tasks(self) -> list[dict]:
        return []

    def stopping(self, interrupted: bool = False) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


def fake_app(backend: FakeBackEnd, **config: Any) -> Flask:
    """The app with the real Dashboard core and ``backend`` behind it."""

    def build(cfg: dict) -> Dashboard:
        dashboard = Dashboard(cfg)
        dashboard.attach(backend)
        return dashboard

    return create_app({**CONFIG, **config}, build=build)


def builtin_app(**config: Any) -> Flask:
    """The app as ``mpscope`` builds it: the built-in back end, its Manager and forkserver workers."""
    return create_app({**CONFIG, **config})


def descendants() -> set[psutil.Process]:
    return set(psutil.Process().children(recursive=True))


def _ours(process: psutil.Process) -> bool:
    """A process the app started: anything but multiprocessing's forkserver and resource
    tracker, which serve this whole test process and end with it."""
    try:
        command = " ".join(process.cmdline())
        return not any(f"from multiprocessing.{helper} import main" in command for helper in HELPERS)
    except psutil.Error:
        return False  # gone (and reaped) meanwhile


def close_app(app: Flask, before: set[psutil.Process] | None = None) -> None:
    """Stop the Labs' runs, the back end and every process the app started.

    ``before``: this process's descendants before the app was made; then every process
    started since (the forkserver aside) must be gone and reaped, not a zombie.
    """
    app.extensions["mpscope_labs"].close()
    app.extensions["mpscope"].close()
    if before is not None:
        wait_for(
            lambda: not [p for p in descendants() - before if _ours(p)],
            10,
            what="every process the app started to end and be reaped",
        )


@pytest.fixture(name="app")
def fake_app_fixture() -> Iterator[Flask]:
    """``app`` for a test module that imports this: the core on a :class:`FakeBackEnd` (no
    process), closed after the test with every process it started gone and reaped."""
    before = descendants()
    app = fake_app(FakeBackEnd())
    yield app
    close_app(app, before)


def connect_socket(
    app: Flask, client: FlaskClient | None = None, read_only: bool = False
) -> SocketIOTestClient:
    """Flask-SocketIO's test client, connected (its ``connect`` runs the real handler).

    The test client does not pass through the WSGI stack, so the RequestGuard does not mark
    its role: ``read_only`` marks it as the guard marks a viewer's (in ``environ``).
    """
    client = client or app.test_client()
    if read_only:
        client.environ_base["mpscope.read_only"] = True
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.is_connected()
    return sio


def received(sio: SocketIOTestClient, name: str) -> list[Any]:
    """The first argument of every ``name`` event ``sio`` received so far.

    Read from the test client's queue, which the server's threads append to; not through
    ``get_received()``, which rebuilds that list and could drop an event appended meanwhile.
    """
    return [e["args"][0] for e in list(sio.queue) if e["name"] == name]


def wait_event(
    sio: SocketIOTestClient, name: str, predicate=lambda payload: True, timeout: float = 10.0
) -> Any:
    """The first ``name`` event whose payload satisfies ``predicate``; fail after ``timeout``."""

    def found() -> Any:
        return next((p for p in received(sio, name) if predicate(p)), None)

    return wait_for(found, timeout, what=f"a {name!r} event")
