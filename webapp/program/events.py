"""Socket.IO commands for the watched program: ``program_stop`` and ``program_start``."""

from __future__ import annotations

from typing import Any

from ..dashboard import current_dashboard
from ..events import _answer
from ..sockets import socketio
from . import commands


@socketio.on("program_stop")
def program_stop(data: Any = None) -> dict:
    return _answer(lambda: commands.stop_program(current_dashboard()), 202)


@socketio.on("program_start")
def program_start(data: Any = None) -> dict:
    return _answer(lambda: commands.start_program(current_dashboard()), 201)
