"""REST and Socket.IO for recordings: ``GET /api/recording`` (the file so far), and the replay's
position (``GET /api/replay``; ``replay_seek``, ``replay_play``, ``replay_pause``) under
``mpscope open``.

Moving the position changes what every page sees, never the recording: the replay
commands are reads (a viewer may scrub).
"""

from __future__ import annotations

import math
import os
import tempfile
from functools import partial
from typing import Any

from flask import Blueprint, jsonify, send_file

from ..dashboard import Dashboard, current_dashboard
from ..recording.writer import copy_database
from ..replay import SPEEDS, ReplayBackEnd
from .access import socket_event
from .commands import ApiError, json_object
from .events import answer

bp = Blueprint("recording", __name__)

NOT_RECORDING = "this dashboard is not recording (start it with --record RUN.sqlite)"
NOT_REPLAY = "not a recording: the position only moves under mpscope open RUN.sqlite"


@bp.get("/api/recording")
def download_recording():
    """The recording so far, as one SQLite file (what is committed: up to the last 0.1 s)."""
    dash = current_dashboard()
    backend = dash.backend
    if dash.recorder is not None:
        copy = dash.recorder.copy_to
        name = dash.recorder.path.name
    elif isinstance(backend, ReplayBackEnd):
        copy = partial(copy_database, str(backend.path), read_only=True)
        name = backend.path.name
    else:
        raise ApiError(404, NOT_RECORDING)
    fd, tmp = tempfile.mkstemp(prefix="mpscope-recording-", suffix=".sqlite")
    os.close(fd)
    try:
        copy(tmp)
        # opened before it is unlinked: the response reads the open file, nothing is left behind
        handle = open(tmp, "rb")  # noqa: SIM115 -- closed by the response
    finally:
        os.unlink(tmp)
    return send_file(handle, mimetype="application/vnd.sqlite3", as_attachment=True, download_name=name)


def replay_of(dash: Dashboard) -> ReplayBackEnd:
    if not isinstance(dash.backend, ReplayBackEnd):
        raise ApiError(409, NOT_REPLAY)
    return dash.backend


@bp.get("/api/replay")
def replay_status():
    """``{"start", "end", "position", "playing", "speed", ...}`` of the recording served."""
    return jsonify(replay_of(current_dashboard()).status())


def seek(dash: Dashboard, data: Any) -> dict:
    replay = replay_of(dash)
    t = json_object(data).get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise ApiError(400, "'t' must be a time in seconds (Unix time, as the recording's start and end)")
    return {"replay": replay.seek(float(t))}


def play(dash: Dashboard, data: Any) -> dict:
    replay = replay_of(dash)
    speed = json_object(data).get("speed", 1)
    if isinstance(speed, bool) or speed not in SPEEDS:
        raise ApiError(400, f"'speed' must be one of {', '.join(map(str, SPEEDS))}")
    return {"replay": replay.play(int(speed))}


def pause(dash: Dashboard, data: Any) -> dict:
    json_object(data)
    return {"replay": replay_of(dash).pause()}


@socket_event("replay_seek", writes=False)
def replay_seek(data: Any = None) -> dict:
    return answer(lambda: seek(current_dashboard(), data))


@socket_event("replay_play", writes=False)
def replay_play(data: Any = None) -> dict:
    return answer(lambda: play(current_dashboard(), data))


@socket_event("replay_pause", writes=False)
def replay_pause(data: Any = None) -> dict:
    return answer(lambda: pause(current_dashboard(), data))
