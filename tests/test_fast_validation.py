"""Fast: every refusal of the REST API and the Socket.IO commands, in process, with a fake back end.

The app is the real one (Dashboard core, routes, events, guard) with ``FakeBackEnd`` behind
it: no Manager and no process is started. A client error is a 4xx with ``{"error": ...}``,
never a 500, and the back end is not called.
"""

from __future__ import annotations

import pytest
from inprocess import FakeBackEnd, close_app, connect_socket, descendants, fake_app

pytestmark = pytest.mark.fast


@pytest.fixture
def backend():
    return FakeBackEnd()


@pytest.fixture
def app(backend: FakeBackEnd):
    before = descendants()
    app = fake_app(backend)
    yield app
    close_app(app, before)


def refused(answer, status: int) -> str:
    """Assert ``answer`` is ``status`` with a JSON error; return its message."""
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.is_json
    body = answer.get_json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


# -- the answers of a back end of our own ------------------------------------------------------
def test_the_core_serves_the_back_ends_fields_and_manager(client, backend: FakeBackEnd):
    state = client.get("/api/state?fields=manager,workers,fake,read_only").get_json()
    assert state == {
        "manager": {"pid": None, "restarts": 0, "state": "none"},
        "workers": [],
        "fake": True,
        "read_only": False,
    }
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["manager_pid"] is None and health["workers"] == 0


def test_a_valid_spawn_reaches_the_back_end_with_the_tasks_checked_params(client, backend: FakeBackEnd):
    answer = client.post("/api/workers", json={"count": 2, "task": "sleep", "params": {"seconds": 1}})
    assert answer.status_code == 201 and answer.get_json() == {"workers": []}
    assert backend.spawned == [(2, "sleep", {"seconds": 1.0})]
    assert client.post("/api/workers").status_code == 201  # no body: one append_pid worker
    assert backend.spawned[-1] == (1, "append_pid", {"interval": 1.0})


def test_a_back_end_that_refuses_answers_409():
    refusing = FakeBackEnd(refuse=True)
    app = fake_app(refusing)
    try:
        client = app.test_client()
        assert "starts no workers" in refused(client.post("/api/workers", json={"count": 1}), 409)
        assert "no Manager" in refused(client.post("/api/state/reset"), 409)
        assert "no Manager" in refused(client.get("/api/state?source=manager"), 409)
        sio = connect_socket(app, client)
        assert sio.emit("spawn", {}, callback=True) == {
            "status": 409,
            "error": "this back end starts no workers",
        }
        assert sio.emit("reset", None, callback=True)["status"] == 409
        sio.disconnect()
    finally:
        close_app(app)


# -- REST refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, needle",
    [
        ({"count": 0}, "'count'"),
        ({"count": 5}, "from 1 to 4"),  # over MAX_WORKERS
        ({"count": "2"}, "'count'"),
        ({"count": True}, "'count'"),
        ({"count": 1.0}, "'count'"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"task": "rm -rf"}, "task"),
        ({"task": "sleep", "params": {"seconds": -1}}, "seconds"),
        ({"task": "sleep", "params": {"minutes": 1}}, "minutes"),
        ({"task": "sleep", "params": []}, "params"),
        ([1, 2], "JSON object"),
        ("spawn", "JSON object"),
    ],
)
def test_spawn_refuses_a_bad_body_with_400(client, backend: FakeBackEnd, body, needle: str):
    assert needle in refused(client.post("/api/workers", json=body), 400)
    assert backend.spawned == []


def test_a_body_must_be_json_of_a_known_size(client, backend: FakeBackEnd):
    assert "Content-Type" in refused(client.post("/api/workers", data="count=1"), 415)
    bad = client.post("/api/workers", data="{", content_type="application/json")
    assert "not valid JSON" in refused(bad, 400)
    deep = "[" * 100_000 + "]" * 100_000
    assert refused(client.post("/api/workers", data=deep[:60_000], content_type="application/json"), 400)
    big = client.post("/api/workers", data=" " * (65 * 1024), content_type="application/json")
    assert refused(big, 413)
    assert refused(client.delete("/api/workers/123", data="x", content_type="text/plain"), 415)
    assert backend.spawned == []


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/workers/abc", 400),
        ("/api/workers/-1", 400),
        ("/api/workers/1.5", 400),
        ("/api/workers/99999999999", 400),
        ("/api/workers/0", 404),
        ("/api/workers/4194304", 404),
        ("/api/workers/4000000", 404),  # a PID, but no worker of ours
        ("/api/workers/4000000?signal=HUP", 400),
        ("/api/workers/4000000?signal=", 400),
        ("/api/workers", 400),  # no state=
        ("/api/workers?state=all", 400),
        ("/api/workers?state=running&signal=STOP", 400),
    ],
)
def test_kill_and_delete_refuse_with_4xx(client, path: str, status: int):
    refused(client.delete(path), status)


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/state?source=disk", 400),
        ("/api/state?fields=nope", 400),
        ("/api/state?fields=", 400),
        ("/api/objects/nope", 404),
        ("/api/objects/nope?offset=x", 400),
        ("/api/objects/nope?limit=-1", 400),
        ("/api/workers/4000000", 404),
        ("/api/workers/4000000/output", 404),
        ("/api/workers/4000000/stack", 404),
        ("/api/workers/abc/output", 400),
        ("/api/nowhere", 404),
        ("/healthz/deeper", 404),
    ],
)
def test_reads_refuse_with_4xx_json(client, path: str, status: int):
    refused(client.get(path), status)


def test_a_wrong_method_is_405_json(client):
    refused(client.put("/api/workers"), 405)
    refused(client.post("/api/state"), 405)


def test_lock_and_object_release_refuse_what_is_not_there(client, backend: FakeBackEnd):
    assert "no shared lock named 'demo'" in refused(client.post("/api/locks/demo/release"), 404)
    refused(client.post("/api/objects/nope/release", json={"pid": 1}), 404)
    assert backend.released == []


def test_the_default_objects_state_and_locks_of_an_empty_core(client):
    assert client.get("/api/locks").get_json()["locks"] == []
    state = client.get("/api/state").get_json()
    assert {"version", "objects", "workers", "locks", "output", "limits", "manager"} <= set(state)
    assert state["limits"]["max_workers"] == 4


# -- Socket.IO refusals --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "event, payload, status",
    [
        ("spawn", {"count": 0}, 400),
        ("spawn", {"count": 1, "task": "nope"}, 400),
        ("spawn", [1], 400),
        ("spawn", "x", 400),
        ("kill", None, 400),
        ("kill", {"pid": "abc"}, 400),
        ("kill", {"pid": True}, 400),
        ("kill", {"pid": 4000000}, 404),
        ("kill", {"pid": 4000000, "signal": "HUP"}, 400),
        ("kill_all", {"signal": "STOP"}, 400),
        ("program_stop", None, 404),
        ("program_start", None, 404),
        ("lab_subscribe", {"id": "nope"}, 404),
        ("lab_subscribe", None, 404),
        ("lab_stop", {"id": "nope"}, 404),
    ],
)
def test_socket_commands_answer_refusals_in_their_ack(socket_client, backend, event, payload, status):
    answer = socket_client.emit(event, payload, callback=True)
    assert answer["status"] == status and answer["error"], answer
    assert backend.spawned == []


def test_socket_commands_that_succeed_answer_as_rest_does(socket_client, backend: FakeBackEnd):
    assert socket_client.emit("spawn", {"count": 3}, callback=True) == {"status": 201, "workers": []}
    assert backend.spawned == [(3, "append_pid", {"interval": 1.0})]
    assert socket_client.emit("kill_all", None, callback=True) == {
        "status": 202,
        "killed": [],
        "signal": "SIGTERM",
    }
    assert socket_client.emit("clear", None, callback=True) == {"status": 200, "cleared": []}
    assert socket_client.emit("reset", None, callback=True) == {"status": 200, "version": 0}
    assert socket_client.emit("resync", None, callback=True) == {"status": 200}
    assert socket_client.emit("lab_unsubscribe", {"id": "nope"}, callback=True) == {"status": 200}
