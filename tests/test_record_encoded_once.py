"""The recorder keeps the text a broadcast was encoded into for the clients (issue 22: its
CPU): with a page open, ``ClientRegistry.broadcast`` encodes each event once and hands that
text to the recording; with none, the recorder encodes it. Both give the same rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from testkit.waiting import wait_for
from webapp.rawjson import RawJSON
from webapp.recording.writer import Recorder


def test_a_broadcasts_text_is_recorded_as_it_is(tmp_path: Path):
    path = tmp_path / "run.sqlite"
    recorder = Recorder(path, interval=0.01)
    recorder.start(lambda: (0, "{}", {}), {"mode": "test"})
    ops = [{"seq": 1, "t": 1.5, "pid": 7, "object": "d", "kind": "dict", "op": "set", "key": "k", "value": 1}]
    data = {"from": 0, "to": 1, "ops": ops}
    try:
        recorder.tap("changes", data)  # no page open: encoded by the recorder
        # a page open: the clients' text, taken as it is (a marker shows it is not re-encoded)
        recorder.tap("changes", data, RawJSON('{"from":0,"to":1,"ops":[],"as":"sent"}'))
        recorder.tap("workers", lambda: {"workers": []})  # read at send time, as before
        wait_for(lambda: not recorder.pending, 10, what="the rows written")
    finally:
        recorder.close()
    con = sqlite3.connect(path)
    try:
        rows = [json.loads(d) for (d,) in con.execute("SELECT data FROM events ORDER BY id")]
    finally:
        con.close()
    assert rows == [data, {"from": 0, "to": 1, "ops": [], "as": "sent"}, {"workers": []}]
