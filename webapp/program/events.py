"""Socket.IO commands for the watched program: ``program_stop`` and ``program_start``."""

from __future__ import annotations

from typing import Any

from ..access import socket_event
from ..dashboard import current_dashboard
from ..events import _answer
from . import commands


@socket_event("program_stop", writes=True)
def program_stop(data: Any = None) -> dict:
    return _answer(lambda: commands.stop_program(current_dashboard()), 202)


@socket_event("program_start", writes=True)
def program_start(data: Any = None) -> dict:
    return _answer(lambda: commands.start_program(current_dashboard()), 201)
