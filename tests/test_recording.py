"""A recorded run, end to end: ``mpscope run --record`` on a program with a Manager's dict,
list and Queue, Process children and a Pool; the file answers docs/recording.md's queries;
``mpscope open`` scrubs back to the moment the fifth PID was appended (Socket.IO and
Chromium) and plays forward; ``mpscope export`` writes a Chrome trace Perfetto can read."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import requests
from browser_support import browser  # noqa: F401 -- fixture
from run_support import exported_trace, run_to_end, write
from support import Api, LiveClient

from testkit.server import REPO, Server
from testkit.waiting import wait_for
from webapp.recording.reader import RecordingReader

PROGRAM = """
import os
from multiprocessing import Manager, Pool, Process

def f(d, l):
    d[os.getpid()] = os.getpid()
    l.append(os.getpid())

def consume(q, n):
    for _ in range(n):
        q.get()

def square(x):
    return x * x

if __name__ == "__main__":
    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(5))
        q = manager.Queue()
        for _ in range(6):
            p = Process(target=f, args=(d, l))
            p.start()
            p.join()
        c = Process(target=consume, args=(q, 3))
        c.start()
        for i in range(3):
            q.put(i)
        c.join()
        with Pool(2) as pool:
            print(pool.map(square, range(8), chunksize=2))
    print("done")
"""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("recording")
    path = tmp / "run.sqlite"
    done = run_to_end("--record", str(path), str(write(tmp, PROGRAM)))
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout
    return path


def appends(path: Path) -> list[tuple[int, float, int, int]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            "SELECT seq, t, pid, json_extract(json, '$.value') FROM ops WHERE op = 'append' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def test_the_recording_answers_the_documented_queries(recording: Path):
    con = sqlite3.connect(recording)
    meta = dict(con.execute("SELECT key, value FROM meta"))
    assert meta["format"] == "mpscope-recording" and meta["mode"] == "program" and meta["stopped"] is None
    rows = appends(recording)
    assert len(rows) == 6 and all(pid == value for _, _, pid, value in rows)  # each appended its own PID
    writers = con.execute(
        "SELECT pid, json_extract(json, '$.key') FROM ops WHERE kind = 'dict' AND op = 'set'"
    ).fetchall()
    assert sorted(writers) == sorted((pid, pid) for _, _, pid, _ in rows)
    roles = dict(con.execute("SELECT role, count(DISTINCT pid) FROM process_states GROUP BY role"))
    assert roles["main"] == 1 and roles["manager"] == 1 and roles["pool"] == 2 and roles["process"] >= 7
    tasks = con.execute("SELECT id, state, func, max(event) FROM task_states GROUP BY id").fetchall()
    assert len(tasks) == 4 and {(state, func) for _, state, func, _ in tasks} == {("done", "square")}
    assert con.execute("SELECT count(*) FROM output_lines WHERE text = 'done'").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] >= 2
    # every example query of docs/recording.md runs
    docs = (REPO / "docs" / "recording.md").read_text()
    queries = [
        q for block in re.findall(r"```sql\n(.*?)```", docs, re.S)[1:] for q in block.split(";") if q.strip()
    ]
    assert len(queries) >= 6
    for query in queries:
        con.execute(query).fetchall()
    con.close()


def test_the_state_at_the_fifth_append(recording: Path):
    rows = appends(recording)
    reader = RecordingReader(recording)
    try:
        for count in (4, 5):
            state = reader.state_at(rows[count - 1][1])
            lists = [o for o in state.object_values().values() if o["kind"] == "list"]
            assert lists[0]["value"] == [0, 1, 2, 3, 4, *(pid for _, _, pid, _ in rows[:count])]
        assert reader.state_at(reader.start).object_values() == {}
    finally:
        reader.close()


def test_export_writes_a_chrome_trace(recording: Path, tmp_path: Path):
    events = exported_trace(recording, tmp_path / "trace.json")  # each event checked against the format
    con = sqlite3.connect(recording)
    names = {
        pid: name
        for pid, name, _ in con.execute("SELECT pid, name, max(event) FROM process_states GROUP BY pid")
    }
    con.close()
    tracks = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert tracks == {pid: f"{name} ({pid})" for pid, name in names.items()}
    assert sum(1 for e in events if e["ph"] == "X" and e["name"] == "square ×2") == 4
    starts = {e["id"] for e in events if e["ph"] == "s"}
    ends = {e["id"] for e in events if e["ph"] == "f"}
    assert len(starts) == 3 and starts == ends  # put -> get
    counters = {e["name"] for e in events if e["ph"] == "C"}
    assert any(name.endswith(" length") for name in counters) and any(
        name.endswith(" depth") for name in counters
    )
    assert any(e["ph"] == "i" and e["name"] == "done" for e in events)
    # the whole run spans at most the recording, in µs
    assert max(e["ts"] for e in events) < 120 * 1e6


@pytest.fixture(scope="module")
def opened(recording: Path, tmp_path_factory: pytest.TempPathFactory):
    server = Server(tmp_path_factory.mktemp("open"), str(recording), subcommand=("open",), max_workers=None)
    try:
        yield server
    finally:
        server.stop()


def list_of(snapshot: dict) -> list:
    return next(o["value"] for o in snapshot["objects"].values() if o["kind"] == "list")


def test_open_scrubs_to_any_moment_and_plays_forward(opened: Server, recording: Path):
    rows = appends(recording)
    api = Api(opened)
    client = LiveClient(opened)
    try:
        first = client.wait(lambda: client.received("snapshot"), what="a snapshot")[-1]
        assert first["replay"]["position"] == first["replay"]["end"] and len(list_of(first)) == 11
        answer = client.call("replay_seek", {"t": rows[4][1]})
        assert answer["status"] == 200
        snap = client.wait(
            lambda: (s := client.received("snapshot")[-1]) and len(list_of(s)) == 10 and s,
            what="the 5th append",
        )
        assert list_of(snap)[-1] == rows[4][2]
        state = api.get_json("/api/state")
        assert len(list_of(state)) == 10 and state["program"]["state"] == "running"
        assert client.call("replay_seek", {"t": "soon"})["status"] == 400
        assert client.call("replay_play", {"speed": 3})["status"] == 400
        assert client.call("replay_play", {"speed": 16})["status"] == 200
        wait_for(
            lambda: (r := api.get_json("/api/replay"))["position"] == r["end"] and not r["playing"],
            30, what="the play to reach the end",
        )  # fmt: skip
        assert len(list_of(api.get_json("/api/state"))) == 11
        assert api.get_json("/api/state")["program"]["state"] == "exited"
        assert api.session.post(f"{opened.url}/api/workers", json={}).status_code == 403
        download = api.session.get(f"{opened.url}/api/recording")
        assert download.status_code == 200 and download.content.startswith(b"SQLite format 3\x00")
    finally:
        client.close()
        api.close()


def test_open_requires_a_token_by_default(opened: Server, recording: Path, tmp_path: Path):
    """A recording holds the program's values and output: like ``mpscope run``, ``mpscope open``
    makes up a token, prints the URL with it, and refuses a request without it (on loopback
    too); ``--no-token`` opts out."""
    assert opened.token and f"#token={opened.token}" in opened.out_path.read_text()
    plain = requests.Session()
    try:
        for path in ("/api/state", "/api/recording", "/api/replay"):
            answer = plain.get(f"{opened.url}{path}", timeout=10)
            assert answer.status_code == 401 and "error" in answer.json()
        assert opened.session.get(f"{opened.url}/api/state", timeout=10).status_code == 200
        open_to_all = Server(tmp_path, str(recording), "--no-token", subcommand=("open",), max_workers=None)
        try:
            assert open_to_all.token is None
            assert plain.get(f"{open_to_all.url}/api/replay", timeout=10).status_code == 200
        finally:
            open_to_all.stop()
    finally:
        plain.close()


def test_the_slider_shows_the_state_at_the_fifth_append(opened: Server, recording: Path, browser):  # noqa: F811
    rows = appends(recording)
    page = browser.new_page()
    try:
        page.goto(opened.page_url)
        wait_for(lambda: "/" in page.locator("#replay-time").inner_text(), 10, what="the slider's status")
        replay = opened.session.get(f"{opened.url}/api/replay", timeout=10).json()  # with the token
        start, end = replay["start"], replay["end"]
        slider = page.locator("#replay-slider")
        steps = int(slider.get_attribute("max"))
        # the step at or just after the fifth append (before the sixth)
        step = -(-(rows[4][1] - start) * steps // (end - start))
        assert start + step * (end - start) / steps < rows[5][1]
        slider.evaluate(
            "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input'));"
            " el.dispatchEvent(new Event('change')); }",
            int(step),
        )
        fifth, sixth = str(rows[4][2]), str(rows[5][2])
        objects = page.locator("#objects")
        wait_for(
            lambda: fifth in objects.inner_text() and sixth not in objects.inner_text(),
            10,
            what="the 5th PID",
        )
        assert page.locator("#program-state").inner_text() == "running"
    finally:
        page.close()
