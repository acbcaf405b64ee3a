"""The one authorisation point: every REST route and every Socket.IO event passes through here.

A REST call writes when its method is POST, PUT, PATCH or DELETE (:func:`authorise_request`
runs before every view, matched or not). A Socket.IO event says whether it writes when it is
registered with :func:`socket_event`, the only way this app registers events:
:func:`check_every_event_declared` refuses to start an app with an event registered any other
way. A write is refused to a read-only client (``--read-only`` or a viewer token; the
RequestGuard records which in the request's environ) and is rate limited per client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import request

from ..dashboard import current_dashboard
from ..sockets import socketio
from .commands import ApiError, check_rate
from .guard import WRITE_METHODS

SOCKET_EVENTS: dict[str, bool] = {}  # event name -> writes?


def authorise(writes: bool, client: str) -> None:
    """Refuse a write from a read-only client (403) or from one over its rate limit (429)."""
    if not writes:
        return
    if request.environ.get("mpscope.read_only"):
        raise ApiError(403, "this dashboard is read-only")
    check_rate(current_dashboard(), client)


def authorise_request() -> None:
    """Flask ``before_request`` hook: every REST call, pages and unknown paths included."""
    authorise(request.method in WRITE_METHODS, f"addr:{request.remote_addr}")


def socket_event(name: str, writes: bool) -> Callable[[Callable], Callable]:
    """Register a Socket.IO handler for ``name`` behind :func:`authorise`.

    A refused write is answered (as its acknowledgement) with ``{"status", "error"}``, as
    the commands answer their own errors, and the handler does not run.
    """

    def register(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def checked(*args: Any) -> Any:
            try:
                authorise(writes, f"sid:{request.sid}")
            except ApiError as exc:
                return {"status": exc.status, "error": exc.message}
            return handler(*args)

        SOCKET_EVENTS[name] = writes
        socketio.on(name)(checked)
        return handler

    return register


def check_every_event_declared() -> None:
    """Refuse to run with a Socket.IO handler that did not come through :func:`socket_event`."""
    registered = set()
    for namespace in socketio.server.handlers.values():
        registered.update(namespace)
    undeclared = sorted(registered - set(SOCKET_EVENTS))
    if undeclared:
        raise RuntimeError(f"Socket.IO events registered without an access rule: {undeclared}")
