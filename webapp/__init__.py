"""mpscope: a live web dashboard for Python multiprocessing. ``create_app`` builds it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from sharedstate.kinds.dict_replica import DictReplica

from . import web
from .builtin import BuiltinWorkers
from .dashboard import Dashboard

# templates/ and static/ sit beside webapp/ in the repository and inside it once installed
ASSETS = (
    Path(__file__).parent if (Path(__file__).parent / "templates").is_dir() else Path(__file__).parent.parent
)


def build_dashboard(config: dict[str, Any]) -> Dashboard:
    """The core with the back end for the mode: a watched program (``PROGRAM``), a recording
    (``REPLAY``, ``mpscope open``) or the built-in workers."""
    if config.get("REPLAY"):
        from .replay import ReplayBackEnd

        dashboard = Dashboard(config, process_noun="process of the recording")
        try:
            dashboard.attach(ReplayBackEnd(config["REPLAY"], dashboard))
        except Exception:
            dashboard.close()
            raise
        return dashboard
    if config.get("PROGRAM"):
        from .program.watch import ProgramWatch

        # No forkserver of our own (Labs start one if used): its start-up would take CPU
        # from the program. Its output is ours too: copied to our terminal.
        dashboard = Dashboard(config, echo_output=True, process_noun="process of the program")
        dashboard.attach(
            ProgramWatch(
                config["PROGRAM"],
                dashboard.hub,
                dashboard.processes,
                dashboard.broadcast,
                config.get("ON_PROGRAM_END"),
            )
        )
    else:
        dashboard = Dashboard(config)
        dashboard.attach(BuiltinWorkers(config, dashboard))
    if config.get("RECORD"):
        try:
            dashboard.record(config["RECORD"], config.get("RECORD_MAX_BYTES", 1024 * 2**20))
        except Exception:
            dashboard.close()
            raise
    return dashboard


def create_app(
    config: dict[str, Any] | None = None, build: Callable[[dict[str, Any]], Dashboard] = build_dashboard
) -> Flask:
    """Create the app with the dashboard ``build`` makes from its config, and register routes and events.

    Tests may pass another ``build`` (the core with a back end of their own) to exercise
    routes and events in-process.
    """
    app = Flask(__name__, template_folder=str(ASSETS / "templates"), static_folder=str(ASSETS / "static"))
    app.config.from_mapping(
        MAX_WORKERS=32,
        ENDED_CAP=1000,
        SCROLLBACK=2000,
        MAX_LOCKS=100,
        RELEASE_DEAD_LOCKS=False,
        ENDED_OUTPUT_BYTES=64 * 2**20,  # ended workers' output kept in all, oldest dropped first
        START_METHOD="forkserver",
        READ_ONLY=False,
        HOST="127.0.0.1",
        ALLOWED_HOSTS=(),
        TOKEN=None,
        VIEWER_TOKEN=None,
        RATE_LIMIT=50.0,  # commands per second per client (bursts of twice that)
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.from_mapping(config)
    app.json.sort_keys = False
    if "MAX_ENTRIES" in app.config:  # entries kept per shared dict: one bound for the process (one app each)
        DictReplica.MAX_ENTRIES = app.config["MAX_ENTRIES"]

    web.init_app(app)  # Socket.IO first: the dashboard's clients are reached through it
    app.extensions["mpscope"] = build(app.config)
    web.init_labs(app)  # the Labs start their runs from the dashboard's context
    return app
