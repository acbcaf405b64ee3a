"""Recording in-process: GET /api/recording from a recording dashboard (the file so far), 404
without --record, the replay commands refused outside mpscope open, the Recorder's bound
(oldest output dropped first, then it stops, as meta says), and a recording read after
mpscope was SIGKILLed."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from inprocess import FakeBackEnd, close_app, connect_socket, fake_app

from testkit.waiting import wait_for
from webapp.dashboard import Dashboard
from webapp.recording import Recorder
from webapp.recording.reader import RecordingReader

pytestmark = pytest.mark.fast


@pytest.fixture
def app():
    app = fake_app(FakeBackEnd())
    yield app
    close_app(app)


def test_without_record_there_is_no_recording_and_no_replay(app):
    client = app.test_client()
    answer = client.get("/api/recording")
    assert answer.status_code == 404 and "--record" in answer.get_json()["error"]
    assert client.get("/api/replay").status_code == 409
    sio = connect_socket(app, client)
    assert sio.emit("replay_seek", {"t": 1.0}, callback=True)["status"] == 409
    sio.disconnect()


def test_a_recording_dashboard_serves_the_file_so_far(tmp_path: Path):
    path = tmp_path / "live.sqlite"

    def build(cfg: dict) -> Dashboard:
        dashboard = Dashboard(cfg)
        dashboard.attach(FakeBackEnd())
        dashboard.record(str(path), 2**20)
        return dashboard

    from inprocess import CONFIG

    from webapp import create_app

    app = create_app(dict(CONFIG), build=build)
    try:
        dash = app.extensions["mpscope"]
        dash.broadcast("output", {"lines": [{"pid": 7, "n": 1, "t": 1.0, "stream": "stdout", "text": "hi"}]})
        wait_for(
            lambda: dash.recorder.pending == type(dash.recorder.pending)() and _count(path) == 1,
            5,
            what="a commit",
        )
        answer = app.test_client().get("/api/recording")
        assert answer.status_code == 200 and answer.data.startswith(b"SQLite format 3\x00")
        copy = tmp_path / "copy.sqlite"
        copy.write_bytes(answer.data)
        answer.close()
        reader = RecordingReader(copy)
        assert reader.meta["mode"] == "builtin"
        assert [line["text"] for line in reader.output_before(10**9)] == ["hi"]
        reader.close()
    finally:
        close_app(app)


def _count(path: Path, kind: str = "output") -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM events WHERE type = ?", (kind,)).fetchone()[0]
    finally:
        con.close()


def test_past_its_bound_the_oldest_output_goes_first_then_recording_stops(tmp_path: Path):
    path = tmp_path / "bounded.sqlite"
    recorder = Recorder(path, max_bytes=200 * 1024, interval=0.01)
    recorder.start(lambda: (0, "{}", {}), {"mode": "test"})
    try:
        text = "x" * 1000
        for n in range(600):  # ~600 KB of output into 200 KiB
            recorder.tap(
                "output", {"lines": [{"pid": 1, "n": n, "t": float(n), "stream": "stdout", "text": text}]}
            )
        wait_for(lambda: not recorder.pending and recorder._dropped_output > 0, 10, what="output dropped")
        assert recorder.recording
        early = RecordingReader(path)  # a reader beside the writer (WAL)
        kept = [line["n"] for line in early.output_before(10**9, limit=10**6)]
        early.close()
        assert kept[0] > 0 and kept == list(range(kept[0], 600))  # the newest kept, the oldest dropped
        # then only changes: nothing left to drop, so it stops and says why
        ops = [
            {"seq": i, "t": 0.0, "pid": 1, "object": "l", "kind": "list", "op": "append", "value": text}
            for i in range(200)
        ]
        for i in range(5):
            recorder.tap("changes", {"from": i * 200, "to": i * 200 + 200, "ops": ops})
        wait_for(lambda: not recorder.recording, 10, what="recording to stop at its bound")
    finally:
        recorder.close()
    reader = RecordingReader(path)
    assert reader.meta["output_dropped_events"] > 0 and reader.meta["output_dropped_until"] is not None
    assert "--record-max-mib" in reader.meta["stopped"]
    reader.close()


def test_a_recording_is_readable_after_mpscope_is_killed(tmp_path: Path):
    path = tmp_path / "killed.sqlite"
    script = textwrap.dedent(f"""
        import sys, time
        from webapp.recording import Recorder
        r = Recorder({str(path)!r}, interval=0.02)
        r.start(lambda: (0, "{{}}", {{}}), {{"mode": "test"}})
        n = 0
        while True:
            n += 1
            line = {{"pid": 1, "n": n, "t": time.time(), "stream": "stdout", "text": str(n)}}
            r.tap("output", {{"lines": [line]}})
            if n == 50:
                print("tapped", flush=True)
            time.sleep(0.001)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "tapped"
        wait_for(lambda: _count(path) >= 50, 10, what="50 lines committed")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    reader = RecordingReader(path)  # the WAL as the killed writer left it
    lines = reader.output_before(10**9, limit=10**6)
    assert len(lines) >= 50 and [int(line["text"]) for line in lines] == list(range(1, len(lines) + 1))
    reader.close()
