"""Socket.IO events of the Labs: follow one run in its own room, or stop it.

``lab_subscribe`` {"id"} joins the run's room and answers ``{"status": 200, "run": {...}}``
with the whole run so far (as ``GET /api/labs/runs/<id>``);
batches that follow arrive as ``lab`` events, numbered so a client drops what it has.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_socketio import join_room, leave_room

from ..sockets import socketio
from .access import socket_event


def room(run_id: str) -> str:
    return f"lab:{run_id}"


def _run(data: Any):
    run_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(run_id, str):
        return None
    return current_app.extensions["mpscope_labs"].get(run_id)


@socket_event("lab_subscribe", writes=False)
def lab_subscribe(data: Any = None) -> dict:
    run = _run(data)
    if run is None:
        return {"status": 404, "error": "no such lab run"}
    join_room(room(run.id))  # join first: a batch sent meanwhile is a duplicate, never a gap
    return {"status": 200, "run": run.info()}


@socket_event("lab_unsubscribe", writes=False)
def lab_unsubscribe(data: Any = None) -> dict:
    run = _run(data)
    if run is not None:
        leave_room(room(run.id))
    return {"status": 200}


@socket_event("lab_stop", writes=True)
def lab_stop(data: Any = None) -> dict:
    run = _run(data)
    if run is None:
        return {"status": 404, "error": "no such lab run"}
    current_app.extensions["mpscope_labs"].stop(run.id)
    return {"status": 202, "id": run.id}


def emit(run_id: str, payload: dict) -> None:
    """Send a run's batch to the clients that follow it."""
    socketio.emit("lab", payload, to=room(run_id))
