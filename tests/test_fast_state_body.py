"""Fast: a ``GET /api/state`` reply is whole JSON or a JSON error, never a cut or empty body
(issue 21, item 4), in process.

The body is built whole before the status goes out: an object whose JSON pieces raise while
the snapshot is built makes the reply a 500 ``{"error": ...}`` (so do ``?fields=`` and
``/api/objects/<id>``), and under concurrent readers while the state changes every reply is
JSON of exactly its ``Content-Length``.
"""

from __future__ import annotations

import json
import threading

import pytest
from inprocess import fake_app_fixture  # noqa: F401 -- the ``app`` fixture

from sharedstate.kinds.dicts import DictReplica
from webapp.dashboard import Dashboard

pytestmark = pytest.mark.fast


class Exploding(DictReplica):
    """A dict whose JSON fails to build (as an encoding bug, or memory running out, would)."""

    def json_pieces(self):
        raise RuntimeError("the pieces could not be built")


def holding(app, replica: DictReplica) -> Dashboard:
    dashboard: Dashboard = app.extensions["mpscope"]
    dashboard.mirror.replace(2, {"bad": ("dict", "bad = m.dict()", replica, 4242, "manager")})
    dashboard.clients.cache.invalidate()
    return dashboard


@pytest.mark.parametrize("path", ["/api/state", "/api/state?fields=objects,workers", "/api/objects/bad"])
def test_pieces_that_raise_make_a_json_error_not_a_cut_body(app, path):
    holding(app, Exploding([[1, 2]]))
    answer = app.test_client().get(path)
    assert answer.status_code == 500
    assert answer.is_json and answer.get_json() == {"error": "internal error; see the server log"}


def test_concurrent_readers_while_the_state_changes_get_whole_json(app):
    dashboard = holding(app, DictReplica([[i, i] for i in range(20_000)]))
    mirror = dashboard.mirror
    bodies: list[tuple[int, int, bytes]] = []
    done = threading.Event()

    def read() -> None:
        client = app.test_client()
        while not done.is_set():
            answer = client.get("/api/state")
            bodies.append((answer.status_code, int(answer.headers["Content-Length"]), answer.get_data()))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for seq in range(3, 3 + 3_000):  # a change per step, each in a chunk of its own
            key = (seq * 7919) % 20_000
            mirror.apply_ops([{"seq": seq, "object": "bad", "op": "set", "key": key, "value": seq, "pid": 1}])
    finally:
        done.set()
        for reader in readers:
            reader.join(30)
    assert bodies, "no reply was read"
    for status, length, body in bodies:
        assert status == 200 and len(body) == length
        state = json.loads(body)
        assert len(state["objects"]["bad"]["value"]) == 20_000
