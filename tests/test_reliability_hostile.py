"""Hostile input, round two (issue 12): the login link (and no cookie), one authorisation point
for every route and socket event, malformed Socket.IO frames, and lock names. Each runs against a
real server over HTTP, raw websockets or Socket.IO; ``make chaos`` runs the frames for longer."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from bad_frames import MALFORMED_FRAMES, malformed_frames, send_malformed
from reliability_support import (  # noqa: F401 -- servers_fixture provides `servers`
    LIVE,
    Server,
    Watcher,
    servers_fixture,
    wait_for,
)

ADMIN, VIEWER = "A" * 24, "V" * 24
# the Socket.IO events a viewer may use; every other registered event is a command
# (moving a replay's position changes nothing: `mpscope open` is read-only for everyone)
READ_EVENTS = {
    "connect",
    "disconnect",
    "resync",
    "lab_subscribe",
    "lab_unsubscribe",
    "replay_seek",
    "replay_play",
    "replay_pause",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SAMPLE_ARGS = {"pid": "1", "name": "demo", "run_id": "nope", "filename": "js/app.js", "oid": "d"}


def raw(server: Server, method: str, path: str, **kwargs) -> requests.Response:
    """A request with exactly the given headers (no token) that does not follow redirects."""
    return requests.request(method, server.url + path, timeout=10, allow_redirects=False, **kwargs)


# -- the login link -----------------------------------------------------------------------------
def test_a_token_in_the_link_cannot_inject_headers_or_lead_off_site(servers):
    srv, tokenless = servers(token=ADMIN), servers()  # with a token, and the default that needs none
    for server in (srv, tokenless):
        injected = raw(server, "GET", "/?token=abc%0d%0aX-Injected:%20yes%0d%0a%0d%0a<h1>hi</h1>")
        assert injected.status_code == 400, injected.status_code
        assert "X-Injected" not in injected.headers and "Set-Cookie" not in injected.headers
        assert "<h1>" not in injected.text and "letters, digits" in injected.json()["error"]
    for path in ("/%2f%2fevil.example", "/%5cevil.example", "/%2f%5c%2fevil.example", "///evil.example"):
        answer = raw(srv, "GET", f"{path}?token={ADMIN}&x=1")
        assert answer.status_code == 303, (path, answer.status_code)
        location = answer.headers["Location"]
        assert urlsplit(location).netloc == "" and re.match(r"/[^/\\]", location), (path, location)
        assert location.endswith(f"?x=1#token={ADMIN}") and "Set-Cookie" not in answer.headers
    # a token that is not ours sets no cookie: nothing taken from a request goes into a header
    stranger = raw(tokenless, "GET", f"/?token={'x' * 20}")
    assert stranger.status_code == 303 and "Set-Cookie" not in stranger.headers
    assert stranger.headers["Location"] == "/"


def test_the_login_link_sets_no_cookie_and_a_cookie_opens_nothing(servers):
    """Issue 21 (Security 3): the per-port HMAC cookie reached every service on the host, which
    could replay it (201 on POST /api/workers). No cookie is set, and none is ever read."""
    srv: Server = servers(token=ADMIN)
    login = raw(srv, "GET", f"/?token={ADMIN}")
    assert login.status_code == 303 and "Set-Cookie" not in login.headers
    assert login.headers["Location"] == f"/#token={ADMIN}"
    for cookie in (f"mpscope_{srv.port}={ADMIN}", f"token={ADMIN}", f"mpscope_token={ADMIN}"):
        headers = {"Cookie": cookie}
        assert raw(srv, "GET", "/api/state", headers=headers).status_code == 401, cookie
        answer = raw(srv, "POST", "/api/workers", json={"task": "sleep"}, headers=headers)
        assert answer.status_code == 401, cookie
    assert srv.workers() == {}


# -- one authorisation point -----------------------------------------------------------------
@pytest.fixture(scope="module")
def handlers():
    """Every REST rule (method, sample path) and Socket.IO event the real app registers."""
    from webapp import create_app
    from webapp.sockets import socketio

    app = create_app({"START_METHOD": "spawn", "MAX_WORKERS": 1})
    try:
        rules = sorted(
            (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE_ARGS[m[1]], rule.rule))
            for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}
        )
        events = sorted(socketio.server.handlers["/"])
    finally:
        app.extensions["mpscope_labs"].close()
        app.extensions["mpscope"].close()
    return rules, events


def test_every_route_and_socket_event_passes_one_authorisation_point(servers, handlers):
    rules, events = handlers
    assert {"spawn", "lab_stop"} <= set(events) and ("POST", "/api/labs/demo/runs") in rules
    shared: Server = servers("--viewer-token", VIEWER, token=ADMIN)
    viewers = [(servers("--read-only"), {}), (shared, {"Authorization": f"Bearer {VIEWER}"})]
    for server, headers in viewers:
        for method, path in rules:
            answer = raw(server, method, path, json={"probe": True}, headers=headers)
            if method in WRITE_METHODS:
                assert answer.status_code == 403, (method, path, answer.status_code)
                assert answer.json() == {"error": "this dashboard is read-only"}
            else:
                assert answer.status_code not in (401, 403), (method, path, answer.status_code)
        watcher = Watcher(server, headers=dict(headers))
        try:
            for event in set(events) - {"connect", "disconnect"}:
                answer = watcher.call(event, {"id": "nope"})
                if event in READ_EVENTS:
                    assert answer["status"] != 403, (event, answer)
                else:
                    assert answer == {"status": 403, "error": "this dashboard is read-only"}, event
        finally:
            watcher.close()
        assert server.workers() == {}
    for method, path in rules:  # the admin is refused none of them (every probe is harmless)
        if method in WRITE_METHODS:
            assert shared.request(method, path, json={"probe": True}).status_code != 403, (method, path)


def test_a_viewer_cannot_stop_a_lab_run(servers):
    srv: Server = servers("--viewer-token", VIEWER, token=ADMIN)
    answer = srv.request("POST", "/api/labs/process/runs", json={"processes": 1, "seconds": 10.0})
    assert answer.status_code == 201, answer.text
    run_id = answer.json()["id"]
    viewer, admin = Watcher(srv, headers={"Authorization": f"Bearer {VIEWER}"}), Watcher(srv)
    try:
        assert viewer.call("lab_stop", {"id": run_id}) == {
            "status": 403,
            "error": "this dashboard is read-only",
        }
        assert srv.get_json(f"/api/labs/runs/{run_id}")["status"] == "running"
        assert admin.call("lab_stop", {"id": run_id})["status"] == 202
        wait_for(
            lambda: srv.get_json(f"/api/labs/runs/{run_id}")["status"] != "running", 15, "the run to stop"
        )
    finally:
        viewer.close()
        admin.close()


# -- malformed frames --------------------------------------------------------------------------
@pytest.mark.parametrize("frame", MALFORMED_FRAMES[:3], ids=repr)
def test_a_malformed_frame_drops_that_client_only(servers, frame):
    srv: Server = servers()
    bystander = Watcher(srv)
    try:
        send_malformed(srv, frame)
        assert bystander.call("kill", {"pid": 999_999})["status"] == 404  # still served
    finally:
        bystander.close()
    lines = [line for line in srv.log().splitlines() if "malformed frame" in line]
    assert len(lines) == 1 and len(lines[0]) < 250, lines


def test_every_kind_of_malformed_frame_gets_one_short_rate_limited_line(servers):
    """Each frame of MALFORMED_FRAMES from its own client while a worker writes; the followers
    keep receiving changes and end in step (make chaos: 20 rounds, 3 followers)."""
    srv: Server = servers()
    figures = malformed_frames(srv, rounds=1, clients=2)
    assert figures["bad_frames"] == len(MALFORMED_FRAMES)


# -- lock names ------------------------------------------------------------------------------
def lock_names(srv: Server) -> list[str]:
    return [lock["name"] for lock in srv.get_json("/api/state")["locks"]]


def test_lock_names_are_checked_whole_and_their_number_is_bounded(servers):
    srv: Server = servers("--max-locks", "3", max_workers=6)
    for name in ("demo\n", "demo\r\n", "de mo", "", "x" * 65):
        answer = srv.request("POST", "/api/workers", json={"task": "hold_lock", "params": {"lock": name}})
        assert answer.status_code == 400, (name, answer.status_code)
    for n in range(6):  # free, unused locks are forgotten, oldest first
        pid = srv.spawn(1, "hold_lock", lock=f"n{n}", seconds=0)[0]["pid"]
        wait_for(lambda pid=pid: srv.workers()[pid]["state"] not in LIVE, 10, "the holder to end")
        last_three = [f"n{k}" for k in range(max(0, n - 2), n + 1)]
        wait_for(lambda last_three=last_three: lock_names(srv) == last_three, 10, f"locks {last_three}")
    assert srv.get_json("/api/state")["limits"]["max_locks"] == 3
    holders = {name: srv.spawn(1, "hold_lock", lock=name, seconds=3600)[0]["pid"] for name in "abc"}
    held = {name: pid for name, pid in holders.items()}
    wait_for(
        lambda: {k["name"]: k["holder_pid"] for k in srv.get_json("/api/locks")["locks"]} == held,
        10,
        "holders",
    )
    full = srv.request("POST", "/api/workers", json={"task": "hold_lock", "params": {"lock": "d"}})
    assert full.status_code == 409 and "3 shared locks" in full.json()["error"]
    assert len(srv.workers()) == 6 + 3  # nothing started
    assert srv.kill(holders["a"], "KILL").status_code == 202  # a dead holder keeps its lock...
    wait_for(lambda: srv.workers()[holders["a"]]["state"] == "killed", 10, "the holder to die")
    again = srv.request("POST", "/api/workers", json={"task": "hold_lock", "params": {"lock": "d"}})
    assert again.status_code == 409
    assert srv.request("POST", "/api/locks/a/release").status_code == 200  # ...until released
    srv.spawn(1, "hold_lock", lock="d", seconds=0)
    wait_for(lambda: sorted(lock_names(srv)) == ["b", "c", "d"], 10, "'a' forgotten, 'd' used")
    srv.kill_all()


def test_release_dead_locks_frees_a_dead_holders_lock_for_its_waiter(servers):
    srv: Server = servers("--release-dead-locks")
    holder = srv.spawn(1, "hold_lock", lock="L", seconds=3600)[0]["pid"]
    wait_for(lambda: srv.get_json("/api/locks")["locks"], 10, "the lock to be held")
    waiter = srv.spawn(1, "hold_lock", lock="L", seconds=0)[0]["pid"]
    wait_for(lambda: srv.get_json("/api/locks")["locks"][0]["waiters"] == [waiter], 10, "the waiter")
    assert srv.kill(holder, "KILL").status_code == 202
    wait_for(lambda: srv.workers()[waiter]["state"] == "exited", 10, "the waiter to get the lock and end")
    assert srv.get_json("/api/locks")["locks"][0]["holder_pid"] is None
    assert f"released lock 'L': its holder, PID {holder}, died" in srv.log()
