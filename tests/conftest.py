"""Fixtures that run the real thing: an mpscope server process, a REST helper and a Socket.IO client.

``server`` (one per session) -> ``api`` (resets that server before each test) -> ``sio`` (a
connected websocket client that rebuilds the shared state from ``snapshot`` + ``changes``).
``fresh_server`` is a private server per test, for tests that stop the server.
``run_server`` (parametrized with a program from examples/) -> ``run_api``: ``mpscope run``.
``app`` -> ``client``, ``socket_client``: the app built in this process (the fast tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import browser  # noqa: F401 -- one Chromium for every browser test module
from hostile_clients import Stranger
from inprocess import builtin_app, close_app, connect_socket, descendants
from run_support import RunServer
from support import MAX_WORKERS, Api, LiveClient

from testkit.server import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One mpscope server for the session: --max-workers 8, no rate limit (the tests send bursts)."""
    srv = Server(tmp_path_factory.mktemp("server"), "--rate-limit", "0", max_workers=MAX_WORKERS)
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path):
    """A private mpscope server (--max-workers 4, default rate limit) for a test that stops it."""
    srv = Server(tmp_path, max_workers=4)
    yield srv
    srv.stop()


@pytest.fixture
def api(server: Server):
    """REST helper for the session server, first reset to no workers and an empty state."""
    client = Api(server)
    client.reset()
    yield client
    client.close()


@pytest.fixture
def sio(api: Api):
    """A websocket Socket.IO client connected to the freshly reset server, first snapshot received."""
    client = LiveClient(api)
    client.wait(lambda: client.replica.version is not None, what="the first snapshot")
    yield client
    client.close()


@pytest.fixture
def stranger():
    """A `sleep 30` process (its Popen) that is none of the server's business."""
    process = Stranger(30)
    yield process.proc
    process.stop()


@pytest.fixture
def run_server(tmp_path: Path, request: pytest.FixtureRequest):
    """Start ``mpscope run`` on ``request.param``: (mpscope flags..., program, args...); stop it after."""
    flags = tuple(arg for arg in request.param if arg.startswith("--"))
    program, *args = request.param[len(flags) :]
    srv = RunServer(tmp_path, program, *args, flags=flags)
    yield srv
    srv.stop()


@pytest.fixture
def run_api(run_server: RunServer):
    """REST helper for ``run_server``."""
    client = Api(run_server)
    yield client
    client.close()


# -- the app in this process (make test-fast) --------------------------------------------------
# Flask's tutorial fixtures: ``app`` -> ``client`` (Flask's test client) and ``socket_client``
# (Flask-SocketIO's). ``app`` is built with the real built-in back end: its Manager and the
# workers it starts are real, and reaped after the test. A test module that needs no process
# overrides ``app`` with ``inprocess.fake_app`` (the core with a fake back end). One app at a
# time: the app's SocketIO object is shared by every app of a process.
@pytest.fixture
def app():
    """``create_app`` with the built-in back end, in this process; closed (every process reaped) after."""
    before = descendants()
    app = builtin_app()
    yield app
    close_app(app, before)


@pytest.fixture
def client(app):
    """Flask's test client for ``app`` (through the RequestGuard, as a browser's requests)."""
    return app.test_client()


@pytest.fixture
def socket_client(app, client):
    """Flask-SocketIO's test client, connected to ``app`` (it has received its first snapshot)."""
    sio = connect_socket(app, client)
    yield sio
    if sio.is_connected():
        sio.disconnect()
