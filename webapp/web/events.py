"""Socket.IO events: a snapshot on connect, resync on request, and the client commands.

Commands (``spawn``, ``kill``, ``kill_all``, ``clear``, ``reset``) take the REST bodies and
answer, as their acknowledgement, with what REST would return, plus ``status``. Every
event is registered through :func:`webapp.web.access.socket_event`, which says whether it writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from ..dashboard import current_dashboard
from ..sockets import socketio
from . import commands
from .access import socket_event
from .commands import ApiError


def answer(run: Callable[[], dict], status: int = 200) -> dict:
    """Run a command for this client (already authorised) and answer as REST would."""
    try:
        return {"status": status, **run()}
    except ApiError as exc:
        return {"status": exc.status, "error": exc.message}


def _args(data: Any) -> dict:
    return data if isinstance(data, dict) else {}


@socket_event("connect", writes=False)
def connect(auth: Any = None) -> None:
    """Send the new client a full snapshot; changes follow from its version."""
    dashboard = current_dashboard()
    dashboard.clients.welcome(request.sid, socketio.server.manager.eio_sid_from_sid(request.sid, "/"))


@socket_event("disconnect", writes=False)
def disconnect(reason: Any = None) -> None:
    current_dashboard().clients.remove(request.sid)


@socket_event("resync", writes=False)
def resync(data: Any = None) -> dict:
    """Send this client a fresh snapshot soon (it saw a gap in versions); repeats coalesce."""
    current_dashboard().clients.request_snapshot(request.sid)
    return {"status": 200}


@socket_event("spawn", writes=True)
def spawn(data: Any = None) -> dict:
    return answer(lambda: commands.spawn(current_dashboard(), data), 201)


@socket_event("kill", writes=True)
def kill(data: Any = None) -> dict:
    args = _args(data)
    return answer(lambda: commands.kill(current_dashboard(), args.get("pid"), args.get("signal")), 202)


@socket_event("kill_all", writes=True)
def kill_all(data: Any = None) -> dict:
    return answer(lambda: commands.kill_all(current_dashboard(), _args(data).get("signal")), 202)


@socket_event("clear", writes=True)
def clear(data: Any = None) -> dict:
    return answer(lambda: commands.clear_ended(current_dashboard()))


@socket_event("reset", writes=True)
def reset(data: Any = None) -> dict:
    return answer(lambda: commands.reset(current_dashboard()))
