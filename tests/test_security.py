"""Let no one in: bind address and tokens, Host and Origin checks, read-only access, content
types and size limits, rate limits, the CSP, and how the Manager is reached. Every check goes
through a real server over HTTP or a real Socket.IO/websocket connection."""

from __future__ import annotations

import ast
import os
from multiprocessing.connection import Client
from multiprocessing.context import AuthenticationError
from pathlib import Path

import psutil
import pytest
import requests
import socketio
import websocket
from reliability_support import (  # noqa: F401 -- servers_fixture provides `servers`
    REPO,
    ModuleServer,
    Server,
    Watcher,
    servers_fixture,
    wait_for,
)

EVIL_HOST = "evil.example"
EVIL_ORIGIN = "http://evil.example"
# every state-changing route, DELETE included, and the pages and API reads
WRITES = [
    ("POST", "/api/workers", {"task": "sleep", "params": {"seconds": 0}}),
    ("POST", "/api/state/reset", None),
    ("POST", "/api/locks/demo/release", None),
    ("DELETE", "/api/workers/1", None),
    ("DELETE", "/api/workers?state=ended", None),
    ("DELETE", "/api/workers?state=running", None),
    ("PUT", "/api/workers", {}),
    ("PATCH", "/api/workers", {}),
]
READS = ["/", "/healthz", "/api/state", "/api/tasks", "/api/locks", "/socket.io/?EIO=4&transport=polling"]
SHELL = ["/", "/labs", "/static/js/app.js"]  # the page's shell: the same for everyone, served without a token


@pytest.fixture(scope="module")
def srv():
    """One default server (127.0.0.1, no token) for the checks that change nothing."""
    with ModuleServer(max_workers=4) as server:
        yield server


def raw(server: Server, method: str, path: str, **kwargs) -> requests.Response:
    """A request without the session's defaults (no token), headers exactly as given."""
    return requests.request(method, server.url + path, timeout=10, **kwargs)


def handshake_status(server: Server, **options) -> int:
    """Status of a raw websocket handshake to Socket.IO (101 when it is accepted)."""
    ws = websocket.WebSocket()
    try:
        ws.connect(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", **options)
        return 101
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code
    finally:
        ws.shutdown()  # close() skips the socket of a refused handshake


def spawned(server: Server) -> int:
    return len(server.workers())


def non_loopback_address() -> str | None:
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family.name == "AF_INET" and not addr.address.startswith("127."):
                return addr.address
    return None


# -- bind address and token ------------------------------------------------------------------
def test_default_bind_is_loopback_only_and_needs_no_token(srv: Server):
    listening = [c for c in srv.ps.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
    assert srv.token is None
    assert raw(srv, "GET", "/api/state").status_code == 200


def test_binding_beyond_loopback_requires_the_printed_token_for_rest_and_socketio(servers):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    srv: Server = servers("--host", address)
    assert srv.url.startswith(f"http://{address}:")
    assert srv.token, "a token must be generated and printed"
    for path in READS:
        response = raw(srv, "GET", path)
        expected = 200 if path in SHELL else 401
        assert response.status_code == expected, (path, response.status_code)
    for method, path, body in WRITES:
        assert raw(srv, method, path, json=body).status_code == 401, (method, path)
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert raw(srv, "GET", "/api/state", headers=wrong).status_code == 401
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(srv.url, transports=["websocket"], wait_timeout=5)
    client.shutdown()
    assert handshake_status(srv) == 401
    assert spawned(srv) == 0

    # with the token: REST (Bearer or ?token=) and Socket.IO work; an old page link ?token=
    # is sent to the fragment, and sets no cookie
    assert srv.spawn(1, "sleep", seconds=0)
    assert raw(srv, "GET", f"/api/state?token={srv.token}").status_code == 200
    page = requests.Session()
    assert page.get(f"{srv.url}/?token={srv.token}", timeout=10).status_code == 200
    assert not page.cookies and page.get(f"{srv.url}/api/state", timeout=10).status_code == 401
    page.close()
    watcher = Watcher(srv)  # sends the Bearer token
    try:
        assert watcher.call("spawn", {"task": "sleep", "params": {"seconds": 0}})["status"] == 201
    finally:
        watcher.close()


# -- Host header (DNS rebinding) ---------------------------------------------------------------
def test_a_foreign_host_header_is_refused_for_every_verb_and_socketio(srv: Server):
    before = spawned(srv)
    headers = {"Host": f"{EVIL_HOST}:{srv.port}"}
    for path in READS:
        assert raw(srv, "GET", path, headers=headers).status_code == 403, path
    for method, path, body in WRITES:
        response = raw(srv, method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "not allowed" in response.json()["error"]
    assert handshake_status(srv, host=EVIL_HOST) == 403
    assert handshake_status(srv, origin=EVIL_ORIGIN) == 403
    assert handshake_status(srv) == 101
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(srv.url, transports=["websocket"], headers={"Host": EVIL_HOST}, wait_timeout=5)
    client.shutdown()
    assert spawned(srv) == before
    local = {"Host": f"localhost:{srv.port}"}
    assert raw(srv, "GET", "/api/state", headers=local).status_code == 200


# -- Origin and content type -------------------------------------------------------------------
def test_cross_origin_writes_and_socketio_handshakes_are_refused(srv: Server):
    before = spawned(srv)
    for origin in (EVIL_ORIGIN, f"http://127.0.0.1:{srv.port + 1}", "null"):
        for method, path, body in WRITES:
            response = raw(srv, method, path, json=body, headers={"Origin": origin})
            assert response.status_code == 403, (origin, method, path, response.status_code)
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(srv.url, transports=["websocket"], headers={"Origin": origin}, wait_timeout=5)
        client.shutdown()
    assert spawned(srv) == before
    body = {"task": "sleep", "params": {"seconds": 0}}
    response = raw(srv, "POST", "/api/workers", json=body, headers={"Origin": srv.url})
    assert response.status_code == 201
    srv.track(response.json()["workers"][0]["pid"])


def test_state_changing_bodies_must_be_json(srv: Server):
    before = spawned(srv)
    body = '{"task": "sleep", "params": {"seconds": 0}}'
    for method, path, _ in WRITES:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            response = raw(srv, method, path, data=body, headers={"Content-Type": content_type})
            expected = 405 if method in ("PUT", "PATCH") else 415  # no such route: refused anyway
            assert response.status_code == expected, (method, path, content_type, response.status_code)
            assert "error" in response.json()
    assert spawned(srv) == before


# -- size limits -----------------------------------------------------------------------------
def test_request_bodies_over_64_kib_are_refused(srv: Server):
    huge = '{"task": "' + "x" * 100_000 + '"}'
    response = raw(srv, "POST", "/api/workers", data=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "error" in response.json()

    def chunks():
        for _ in range(100):
            yield b" " * 1024

    streamed = raw(srv, "POST", "/api/workers", data=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code in (400, 413), streamed.status_code


def test_socket_messages_over_64_kib_close_that_connection_only(srv: Server):
    before = spawned(srv)
    big, bystander = Watcher(srv), Watcher(srv)
    try:
        big.client.emit("spawn", {"task": "sleep", "params": {"seconds": 0}, "pad": "x" * 100_000})
        wait_for(lambda: not big.client.connected, 10, "the server to close the oversized client")
        answer = bystander.call("spawn", {"task": "nope"})
        assert answer["status"] == 400
    finally:
        big.close()
        bystander.close()
    assert spawned(srv) == before


# -- read-only and viewer tokens ----------------------------------------------------------------
def test_read_only_server_refuses_every_command_and_hides_controls(servers):
    srv: Server = servers("--read-only")
    for method, path, body in WRITES:
        response = srv.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "read-only" in response.json()["error"]
    assert srv.get_json("/api/state")["read_only"] is True
    page = srv.request("GET", "/").text
    assert 'id="spawn-form"' not in page and 'id="kill-all"' not in page and "Read-only" in page
    watcher = Watcher(srv)
    try:
        for event, data in [
            ("spawn", {"task": "sleep"}),
            ("kill", {"pid": 1}),
            ("kill_all", None),
            ("clear", None),
            ("reset", None),
        ]:
            assert watcher.call(event, data)["status"] == 403, event
        assert watcher.snapshots == 1  # watching works
    finally:
        watcher.close()
    assert spawned(srv) == 0


def test_a_viewer_token_grants_read_only_access(servers):
    admin, viewer = "A" * 24, "V" * 24
    srv: Server = servers("--viewer-token", viewer, token=admin)
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert raw(srv, "GET", "/api/state", headers=as_viewer).status_code == 200
    for method, path, body in WRITES:
        assert raw(srv, method, path, json=body, headers=as_viewer).status_code == 403, (method, path)
    assert raw(srv, "GET", "/api/state").status_code == 401  # no token at all
    page = raw(srv, "GET", "/", headers=as_viewer).text
    assert 'id="spawn-form"' not in page
    assert 'id="spawn-form"' in srv.request("GET", "/").text  # the admin sees the controls
    pid = srv.spawn(1, "sleep", seconds=30)[0]["pid"]
    watcher = Watcher(srv, headers=dict(as_viewer))
    try:
        assert watcher.call("kill", {"pid": pid, "signal": "KILL"})["status"] == 403
        assert watcher.call("spawn", {"task": "sleep"})["status"] == 403
    finally:
        watcher.close()
    assert srv.get_json(f"/api/workers/{pid}")["state"] in ("starting", "running")


# -- rate limits -------------------------------------------------------------------------------
def test_commands_are_rate_limited_per_client(servers):
    srv: Server = servers(rate_limit=5)  # 5 per second, bursts of 10
    statuses = [srv.kill(999_999, "KILL").status_code for _ in range(30)]
    assert statuses[:10] == [404] * 10 and 429 in statuses, statuses
    assert set(statuses) <= {404, 429}
    assert srv.request("GET", "/api/state").status_code == 200  # reads are not limited
    greedy, other = Watcher(srv), Watcher(srv)
    try:
        answers = [greedy.call("kill", {"pid": 999_999})["status"] for _ in range(30)]
        assert 429 in answers and set(answers) <= {404, 429}, answers
        assert other.call("kill", {"pid": 999_999})["status"] == 404  # its own bucket
    finally:
        greedy.close()
        other.close()


# -- the page's headers --------------------------------------------------------------------------
def test_every_response_carries_a_strict_content_security_policy(srv: Server):
    for path in ("/", "/api/state", "/static/js/app.js", "/no-such-page"):
        response = raw(srv, "GET", path)
        policy = response.headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "http:" not in policy and "https:" not in policy and "*" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = raw(srv, "GET", "/").text
    assert "<script>" not in page and " on" + "click=" not in page  # no inline script at all


# -- the Manager ------------------------------------------------------------------------------
def test_the_manager_listens_on_a_private_unix_socket_with_a_secret_authkey(srv: Server):
    manager = psutil.Process(srv.manager_pid)
    assert manager.net_connections(kind="inet") == [], "the Manager must not listen on TCP"
    paths = {c.laddr for c in manager.net_connections(kind="unix") if c.laddr}
    assert len(paths) == 1
    path = paths.pop()
    folder = os.stat(os.path.dirname(path))
    assert folder.st_mode & 0o077 == 0, "only this user may reach the Manager's socket"
    assert folder.st_uid == os.getuid()
    for guess in (b"", b"guess", os.urandom(32)):
        with pytest.raises((AuthenticationError, EOFError, ConnectionError)):
            Client(path, authkey=guess)
    other = Server(Path(srv.log_path.parent) / "other", max_workers=1)
    try:
        assert psutil.Process(other.manager_pid).net_connections(kind="unix")[0].laddr != path
    finally:
        other.stop()
    pid = srv.spawn(1, "burst", n=5, keys=5)[0]["pid"]  # still serves its own workers
    wait_for(lambda: srv.get_json(f"/api/workers/{pid}")["state"] == "exited", 10, "the worker")
    assert srv.get_json(f"/api/workers/{pid}")["exitcode"] == 0


def test_tasks_come_only_from_the_registry(srv: Server):
    before = spawned(srv)
    for task in ("os.system", "__import__('os').system('id')", "workers.tasks.crash", "eval", "Opaque", ""):
        response = srv.request("POST", "/api/workers", json={"task": task})
        assert response.status_code == 400, task
        assert "unknown task" in response.json()["error"]
    assert spawned(srv) == before
    # and nothing in the server or the workers evaluates or imports a name it was given
    builtins = {"eval", "exec", "compile", "__import__"}
    for source in [*REPO.glob("webapp/*.py"), *REPO.glob("workers/*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) and func.id in builtins else None
                if isinstance(func, ast.Attribute) and func.attr == "import_module":
                    called = "import_module"
                assert called is None, f"{source.name}:{node.lineno} calls {called}"
