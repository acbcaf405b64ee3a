"""Every error under /api and /healthz answers JSON ``{"error": ...}``, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from .commands import ApiError

logger = logging.getLogger(__name__)


def register_errors(app: Flask) -> None:
    """Answer a client's error with its 4xx, anything unexpected with a 500 (its traceback logged)."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(error=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith(("/api", "/healthz")):
            return jsonify(error=exc.description or exc.name), exc.code
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        logger.error("error in %s %s: %r", request.method, request.path, exc, exc_info=exc)
        return jsonify(error="internal error; see the server log"), 500
