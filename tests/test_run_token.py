"""Issue 21, Security 2 and 3: ``mpscope run`` needs its token, and no credential is a cookie.

A watched program's state, output, stacks and control are its owner's: another local client
without the printed token gets 401 JSON on every route (but the page's shell, which holds
nothing of the program) and no Socket.IO connection, and cannot stop the program. With it,
REST (``Authorization: Bearer`` or ``?token=``) and Socket.IO (a header, or ``?token=`` in
the handshake, as the page sends it) work. No response sets a cookie, and a cookie alone
opens nothing: browsers send a host's cookies to every port of it. ``--token T`` sets the
token; ``--no-token`` opts out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import socketio
import websocket
from run_support import RunServer, watching, write
from support import Api, LiveClient

from testkit.client import raw_socket
from testkit.waiting import wait_for

SECRET = "hunter2-SECRET"
PROGRAM = textwrap.dedent(
    f"""
    import multiprocessing as mp, time

    if __name__ == "__main__":
        with mp.Manager() as manager:
            d = manager.dict()
            d["password"] = "{SECRET}"
            print("printed {SECRET}", flush=True)
            time.sleep(600)
    """
)
SHELL = {"/", "/labs", "/static/<path:filename>"}  # the page's HTML, scripts and styles
SAMPLE_ARGS = {"pid": "1", "name": "demo", "run_id": "nope", "filename": "js/app.js", "oid": "d"}
TOKEN = "chosen-token-0123456789"


@pytest.fixture(scope="module")
def rules() -> list[tuple[str, str, str]]:
    """``(method, rule, sample path)`` for every REST rule the real app registers."""
    from webapp import create_app

    app = create_app({"START_METHOD": "spawn", "MAX_WORKERS": 1})
    try:
        return sorted(
            (method, rule.rule, re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE_ARGS[m[1]], rule.rule))
            for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}
        )
    finally:
        app.extensions["mpscope_labs"].close()
        app.extensions["mpscope"].close()


def old_login(srv: RunServer) -> str:
    """The cookie value ``/?token=`` set before issue 21: an HMAC of the token, keyed to the port."""
    name = f"mpscope_{srv.port}".encode()
    return hmac.new(srv.token.encode(), name, hashlib.sha256).hexdigest()


def raw(srv: RunServer, method: str, path: str, **kwargs) -> requests.Response:
    """A request with exactly the given headers (no token), redirects not followed."""
    return requests.request(method, srv.url + path, timeout=10, allow_redirects=False, **kwargs)


def handshake_status(url: str, **options) -> int:
    """Status of a raw websocket handshake to ``url`` (101 when it is accepted)."""
    ws = websocket.WebSocket()
    try:
        ws.connect(url, **options)
        return 101
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code
    finally:
        ws.shutdown()


def first_snapshot(ws: websocket.WebSocket) -> str:
    """The first ``snapshot`` frame on a websocket that has joined the default namespace."""
    for _ in range(20):
        frame = ws.recv()
        if frame.startswith('42["snapshot"'):
            return frame
    raise AssertionError("no snapshot in the first 20 frames")


def seen_secret(api: Api) -> dict:
    """Wait until the program's Manager value and its printed line reach the dashboard."""
    wait_for(lambda: SECRET in api.request("GET", "/api/state").text, 30, "the program's Manager dict")
    main = api.state()["program"]["pid"]
    wait_for(lambda: SECRET in api.request("GET", f"/api/workers/{main}/output").text, 30, "its output")
    return api.state()["program"]


def test_another_client_without_the_token_reads_and_controls_nothing(tmp_path: Path, rules):
    with watching(tmp_path, PROGRAM) as (srv, api):
        printed = re.search(r"running at (\S+)", srv.out_path.read_text()).group(1)
        assert srv.token and printed == f"{srv.url}/#token={srv.token}", "the printed URL carries it"
        program = seen_secret(api)
        strangers = {
            "nothing": {},
            "a wrong token": {"headers": {"Authorization": "Bearer " + "x" * 32}},
            "a wrong ?token=": {"params": {"token": "x" * 32}},
            "a cookie holding the token": {"headers": {"Cookie": f"mpscope_{srv.port}={srv.token}"}},
            # what the login link once set, which every other service on this host was sent
            "a cookie holding the old login": {"headers": {"Cookie": f"mpscope_{srv.port}={old_login(srv)}"}},
        }
        for method, rule, path in rules:
            for who, options in strangers.items():
                answer = raw(srv, method, path.replace("/1", f"/{program['pid']}"), json={}, **options)
                assert "Set-Cookie" not in answer.headers, (method, path, who)
                assert SECRET not in answer.text, (method, path, who)
                if rule in SHELL and (who == "nothing" or who.startswith("a cookie")):
                    assert answer.status_code == 200, (method, path, who, answer.status_code)
                else:
                    assert answer.status_code == 401, (method, path, who, answer.status_code)
                    assert "token" in answer.json()["error"]
        assert api.state()["program"]["state"] == "running", "a stranger's POST /api/program/stop ran"

        # Socket.IO: the handshake is refused, before any event, to all but the token's holder
        socket_url = srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        assert handshake_status(socket_url) == 401
        assert handshake_status(socket_url, header=[f"Cookie: mpscope_{srv.port}={srv.token}"]) == 401
        assert handshake_status(socket_url + "&token=" + "x" * 32) == 401
        for headers in ({}, {"Cookie": f"mpscope_{srv.port}={srv.token}"}):
            stranger = socketio.Client(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                stranger.connect(srv.url, transports=["websocket"], headers=headers, wait_timeout=5)
            stranger.shutdown()

        # the token's holder: REST with the header or ?token=, Socket.IO with either
        assert SECRET in raw(srv, "GET", "/api/state", params={"token": srv.token}).text
        as_page = websocket.create_connection(socket_url + f"&token={srv.token}", timeout=10)
        assert as_page.recv().startswith("0{")  # Engine.IO open
        as_page.send("40")  # join the default namespace, as raw_socket does
        for ws in (as_page, raw_socket(srv.url, srv.token)):  # ?token=, as the page; a Bearer header
            try:
                assert SECRET in first_snapshot(ws)
            finally:
                ws.close()
        client = LiveClient(srv)  # Authorization: Bearer
        try:
            client.wait(lambda: client.version is not None, what="the first snapshot")
            assert client.call("program_stop", {})["status"] == 202
        finally:
            client.close()


def test_an_old_page_link_goes_to_the_fragment_and_sets_no_cookie(tmp_path: Path):
    with watching(tmp_path, PROGRAM) as (srv, _api):
        answer = raw(srv, "GET", f"/?token={srv.token}")
        assert answer.status_code == 303 and answer.headers["Location"] == f"/#token={srv.token}"
        assert "Set-Cookie" not in answer.headers
        stranger = raw(srv, "GET", "/?token=" + "x" * 32)
        assert stranger.status_code == 401 and "Set-Cookie" not in stranger.headers


def test_the_token_can_be_chosen_or_turned_off(tmp_path: Path):
    program = str(write(tmp_path, PROGRAM))
    with ThreadPoolExecutor(2) as pool:  # both dashboards start, and stop, side by side
        starting = [
            pool.submit(RunServer, tmp_path / "chosen", program, flags=("--token", TOKEN)),
            pool.submit(RunServer, tmp_path / "open", program, flags=("--no-token",)),
        ]
    started = [future.result() for future in starting if not future.exception()]
    try:
        chosen, open_to_all = (future.result() for future in starting)  # raises if one failed to start
        assert chosen.token == TOKEN and f"/#token={TOKEN} " in chosen.out_path.read_text()
        assert raw(chosen, "GET", "/api/state").status_code == 401
        assert (
            raw(chosen, "GET", "/api/state", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        )
        assert open_to_all.token is None and "#token=" not in open_to_all.out_path.read_text()
        api = Api(open_to_all)
        try:
            seen_secret(api)
        finally:
            api.close()
        assert SECRET in raw(open_to_all, "GET", "/api/state").text  # what --no-token risks (docs/run.md)
    finally:
        with ThreadPoolExecutor(2) as pool:
            stops = [pool.submit(srv.stop) for srv in started]
        for stop in stops:
            stop.result()
