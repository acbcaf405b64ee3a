"""Socket.IO commands for the watched program: ``program_stop`` and ``program_start``."""

from __future__ import annotations

from typing import Any

from ..dashboard import current_dashboard
from . import program_commands
from .access import socket_event
from .events import answer


@socket_event("program_stop", writes=True)
def program_stop(data: Any = None) -> dict:
    return answer(lambda: program_commands.stop_program(current_dashboard()), 202)


@socket_event("program_start", writes=True)
def program_start(data: Any = None) -> dict:
    return answer(lambda: program_commands.start_program(current_dashboard()), 201)
