"""The program commands (stop, start) and the pool task list, shared by REST and Socket.IO."""

from __future__ import annotations

from ..dashboard import Dashboard
from ..program.launcher import AlreadyRunning
from ..program.watch import ProgramWatch
from .commands import ApiError


def watched(dashboard: Dashboard) -> ProgramWatch:
    """The watched program, or a 404 when this server is not watching one."""
    if not isinstance(dashboard.backend, ProgramWatch):
        raise ApiError(404, "this server is not watching a program (start one with: mpscope run script.py)")
    return dashboard.backend


def stop_program(dashboard: Dashboard) -> dict:
    """Ask the program to stop; 409 if it is not running."""
    program = watched(dashboard)
    if program.info()["state"] != "running":
        raise ApiError(409, "the program is not running")
    return {"program": program.stop()}


def start_program(dashboard: Dashboard) -> dict:
    """Run the program again; 409 while it runs."""
    program = watched(dashboard)
    try:
        started = {"program": program.start()}
    except AlreadyRunning as exc:
        raise ApiError(409, str(exc)) from None
    except OSError as exc:
        raise ApiError(409, f"cannot start the program: {exc.strerror or exc}") from None
    dashboard.diagnoses.forget()  # what the last run proved is over
    return started


def pool_tasks(dashboard: Dashboard) -> dict:
    # every back end answers: a recording (mpscope open) has the tasks at its position
    backend = dashboard.backend
    return {"tasks": backend.pool_tasks() if backend is not None else []}
