"""Fast: who may call what (read-only, tokens, hosts, the rate limit) and the Labs' API, in process.

The app is the real one with ``FakeBackEnd`` behind it; ``app`` takes its config from the
test's ``indirect`` parameter. Flask's test client goes through the RequestGuard as a
browser's request does; Flask-SocketIO's does not pass through WSGI, so a socket client is
marked read-only as the guard marks a viewer (``connect_socket(read_only=True)``).
"""

from __future__ import annotations

import pytest
from inprocess import FakeBackEnd, close_app, connect_socket, descendants, fake_app

pytestmark = pytest.mark.fast

READ_ONLY = {"error": "this dashboard is read-only"}
TOKEN = "t" * 32


@pytest.fixture
def backend():
    return FakeBackEnd()


@pytest.fixture
def app(request: pytest.FixtureRequest, backend: FakeBackEnd):
    before = descendants()
    app = fake_app(backend, **getattr(request, "param", {}))
    yield app
    close_app(app, before)


def with_config(**config):
    return pytest.mark.parametrize("app", [config], indirect=True)


@with_config(READ_ONLY=True)
def test_read_only_refuses_every_rest_write_and_serves_reads(client, backend: FakeBackEnd):
    for method, path in [
        ("POST", "/api/workers"),
        ("DELETE", "/api/workers/123"),
        ("DELETE", "/api/workers?state=ended"),
        ("POST", "/api/state/reset"),
        ("POST", "/api/locks/L/release"),
        ("POST", "/api/program/stop"),
        ("POST", "/api/labs/race/runs"),
        ("DELETE", "/api/labs/runs/x"),
        ("POST", "/api/nowhere"),  # unknown paths too: the check runs before routing
    ]:
        answer = client.open(path, method=method, json={})
        assert (answer.status_code, answer.get_json()) == (403, READ_ONLY), (method, path)
    assert backend.spawned == [] and backend.resets == 0
    assert client.get("/api/state?fields=read_only").get_json() == {"read_only": True}
    assert client.get("/healthz").status_code == 200


@with_config(READ_ONLY=True)
def test_read_only_socket_clients_are_refused_writes_and_may_resync(app, backend: FakeBackEnd):
    sio = connect_socket(app, read_only=True)
    for event in ("spawn", "kill", "kill_all", "clear", "reset", "program_stop", "program_start", "lab_stop"):
        assert sio.emit(event, {"id": "x", "pid": 1}, callback=True) == {"status": 403, **READ_ONLY}, event
    assert sio.emit("resync", None, callback=True) == {"status": 200}
    assert sio.emit("lab_subscribe", {"id": "x"}, callback=True)["status"] == 404  # a read, answered
    assert backend.spawned == [] and backend.resets == 0
    sio.disconnect()


@with_config(TOKEN=TOKEN, VIEWER_TOKEN="v" * 32)
def test_a_token_is_required_and_a_viewers_token_only_reads(client, backend: FakeBackEnd):
    answer = client.get("/api/state")
    assert answer.status_code == 401 and "token" in answer.get_json()["error"]
    admin = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/state?fields=version", headers=admin).status_code == 200
    assert client.post("/api/workers", headers=admin).status_code == 201
    viewer = {"Authorization": f"Bearer {'v' * 32}"}
    assert client.get("/healthz", headers=viewer).status_code == 200
    answer = client.post("/api/workers", headers=viewer)
    assert (answer.status_code, answer.get_json()) == (403, READ_ONLY)
    assert client.get("/healthz", headers={"Authorization": "Bearer " + "x" * 32}).status_code == 401
    assert len(backend.spawned) == 1


def test_another_host_or_a_cross_origin_write_is_refused(client, backend: FakeBackEnd):
    answer = client.get("/api/state", headers={"Host": "evil.example"})
    assert answer.status_code == 403 and "Host" in answer.get_json()["error"]
    answer = client.post("/api/workers", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403 and "cross-origin" in answer.get_json()["error"]
    assert client.post("/api/workers", headers={"Origin": "http://localhost"}).status_code == 201
    assert len(backend.spawned) == 1


@with_config(RATE_LIMIT=1.0)
def test_commands_over_the_rate_limit_are_429(app, client, backend: FakeBackEnd):
    answers = [client.post("/api/workers").status_code for _ in range(5)]  # bursts of 2, 1 a second
    assert answers[:2] == [201, 201] and 429 in answers[2:]
    assert client.get("/api/state?fields=version").status_code == 200  # reads are not limited
    sio = connect_socket(app, client)  # a socket client has a bucket of its own
    acks = [sio.emit("spawn", {}, callback=True)["status"] for _ in range(5)]
    assert acks[:2] == [201, 201] and 429 in acks[2:]
    sio.disconnect()


# -- the Labs ------------------------------------------------------------------------------------
def test_labs_are_listed_and_described(client):
    page = client.get("/labs")
    assert page.status_code == 200 and b"<html" in page.data.lower()
    labs = client.get("/api/labs").get_json()
    assert labs and all({"name", "params"} <= set(lab) for lab in labs)
    first = labs[0]["name"]
    described = client.get(f"/api/labs/{first}").get_json()
    assert described["name"] == first and described["code"]


def test_labs_refuse_what_is_not_there_with_4xx(client):
    first = client.get("/api/labs").get_json()[0]["name"]
    for method, path, status in [
        ("GET", "/api/labs/nope", 404),
        ("POST", "/api/labs/nope/runs", 404),
        ("GET", "/api/labs/runs/nope", 404),
        ("DELETE", "/api/labs/runs/nope", 404),
    ]:
        answer = client.open(path, method=method)
        assert answer.status_code == status and answer.get_json()["error"], (method, path)
    answer = client.post(f"/api/labs/{first}/runs", json={"no such param": 1})
    assert answer.status_code == 400 and answer.get_json()["error"]
    answer = client.post(f"/api/labs/{first}/runs", json=[1])
    assert answer.status_code == 400 and answer.get_json()["error"]
