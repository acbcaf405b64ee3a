"""REST for the watched program: stop, start (run again) and its pool tasks.

Who may call them is decided in :mod:`webapp.web.access`, as for every route."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..dashboard import current_dashboard
from . import program_commands
from .routes import json_body

bp = Blueprint("program", __name__)


@bp.post("/api/program/stop")
def stop_program():
    """SIGTERM the program's main process, then SIGKILL it and its processes if they linger."""
    json_body()
    return jsonify(program_commands.stop_program(current_dashboard())), 202


@bp.post("/api/program/start")
def start_program():
    """Run the program again once it has ended."""
    json_body()
    return jsonify(program_commands.start_program(current_dashboard())), 201


@bp.get("/api/pool-tasks")
def list_pool_tasks():
    """Every Pool / ProcessPoolExecutor task of the program: queued, running, done or failed."""
    return jsonify(program_commands.pool_tasks(current_dashboard()))
