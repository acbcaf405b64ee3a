"""Labs: each lesson of the tutorial as a live, measured experiment (issue 6).

``init_app`` adds the Labs blueprint and Socket.IO events, and a LabRunner stored in
``app.extensions["mpscope_labs"]`` that starts runs from the Dashboard's context.
"""

from __future__ import annotations

import atexit

from flask import Flask

from ..sockets import socketio
from . import events
from .routes import bp
from .runner import LabRunner


def _emit(run_id: str, payload: dict) -> None:
    socketio.emit("lab", payload, to=events.room(run_id))


def init_app(app: Flask) -> LabRunner:
    """Create the app's LabRunner and register the Labs routes and events."""
    runner = LabRunner(app.extensions["mpscope"].ctx, _emit, keep=app.config.get("LABS_KEEP", 50))
    app.extensions["mpscope_labs"] = runner
    app.register_blueprint(bp)
    # runs before multiprocessing's own exit handler, so runs end while their processes can be reaped
    atexit.register(runner.close)
    return runner
