"""The web layer: every HTTP route and Socket.IO event, and the guards in front of them.

The engines below (the dashboard core, its back ends, the Labs' runner) know nothing of
HTTP or Socket.IO; the faces here validate what a client sends, call them, and answer as
JSON. :func:`init_app` binds them to an app before its dashboard is built (the dashboard
reaches its clients through Socket.IO), :func:`init_labs` once it is.
"""

from __future__ import annotations

import atexit

from flask import Flask

from ..labs.runner import LabRunner
from ..sockets import ClientManager, WireJSON, socketio

# events and program_events register their Socket.IO handlers on import
from . import (  # noqa: F401
    access,
    events,
    frames,
    labs_events,
    labs_routes,
    program_events,
    program_routes,
    recording_routes,
    routes,
)
from .errors import register_errors
from .guard import RequestGuard, allowed_hosts


def init_app(app: Flask) -> None:
    """Bind Socket.IO, the guard, the authorisation point, the routes and the error answers."""
    socketio.init_app(
        app,
        async_mode="threading",
        cors_allowed_origins=None,  # same origin only
        max_http_buffer_size=64 * 1024,
        json=WireJSON,
        client_manager=ClientManager(),
        logger=False,
        engineio_logger=False,
    )
    app.wsgi_app = RequestGuard(
        app.wsgi_app,
        allowed_hosts(app.config["HOST"], app.config["ALLOWED_HOSTS"]),
        token=app.config["TOKEN"],
        viewer_token=app.config["VIEWER_TOKEN"],
        read_only=app.config["READ_ONLY"],
    )
    frames.install(socketio.server)
    access.check_every_event_declared()
    app.before_request(access.authorise_request)
    app.register_blueprint(routes.bp)
    app.register_blueprint(program_routes.bp)
    app.register_blueprint(recording_routes.bp)
    register_errors(app)


def init_labs(app: Flask) -> LabRunner:
    """Create the app's LabRunner (``app.extensions["mpscope_labs"]``) and add the Labs routes."""
    dashboard = app.extensions["mpscope"]
    runner = LabRunner(
        dashboard.ctx, labs_events.emit, keep=app.config.get("LABS_KEEP", 50), hub=dashboard.hub
    )
    app.extensions["mpscope_labs"] = runner
    app.register_blueprint(labs_routes.bp)
    # runs before multiprocessing's own exit handler, so runs end while their processes can be reaped
    atexit.register(runner.close)
    return runner
