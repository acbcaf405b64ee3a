"""An unexpected error in a request answers JSON 500 and logs its whole traceback."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from webapp.web.errors import register_errors


def test_an_unexpected_error_answers_json_500_and_logs_its_traceback(caplog: pytest.LogCaptureFixture):
    app = Flask(__name__)
    register_errors(app)

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("deep down")

    with caplog.at_level(logging.ERROR, logger="webapp.web"):
        answer = app.test_client().get("/api/boom")
    assert answer.status_code == 500
    assert answer.get_json() == {"error": "internal error; see the server log"}
    (record,) = [r for r in caplog.records if r.name == "webapp.web.errors"]
    assert record.getMessage() == "error in GET /api/boom: RuntimeError('deep down')"
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert 'raise RuntimeError("deep down")' in caplog.text  # the traceback, down to the line that raised
