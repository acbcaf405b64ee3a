"""HTTP routes of the Labs: the page, the list of labs, starting, reading and stopping runs."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from workers.registry import ParamError

from ..labs.catalog import LABS, Lab
from ..labs.run import LabRun
from ..labs.runner import Busy, LabRunner
from .commands import ApiError
from .routes import json_body

bp = Blueprint("labs", __name__)


def runner() -> LabRunner:
    return current_app.extensions["mpscope_labs"]


def get_lab(name: str) -> Lab:
    lab = LABS.get(name)
    if lab is None:
        raise ApiError(404, f"no lab called {name[:64]!r}; labs: {', '.join(LABS)}")
    return lab


def get_run(run_id: str) -> LabRun:
    run = runner().get(run_id)
    if run is None:
        raise ApiError(404, "no such lab run (unknown id, or dropped as one of the oldest)")
    return run


@bp.get("/labs")
def page():
    """Show the Labs page."""
    return render_template("labs.html")


@bp.get("/api/labs")
def list_labs():
    """List the labs with their params, defaults and limits."""
    return jsonify([lab.describe() for lab in LABS.values()])


@bp.get("/api/labs/<name>")
def describe_lab(name: str):
    """One lab, with the real source of the functions it runs."""
    lab = get_lab(name)
    return jsonify({**lab.describe(), "code": lab.code()})


@bp.post("/api/labs/<name>/runs")
def start_run(name: str):
    """Start a run of a lab; 201 with its id."""
    lab = get_lab(name)
    try:
        params = lab.validate(json_body())
    except ParamError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        run = runner().start(lab, params)
    except Busy as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(id=run.id, lab=lab.name, params=params), 201


@bp.get("/api/labs/runs/<run_id>")
def read_run(run_id: str):
    """A run's status, events, output and (once over) result."""
    return jsonify(get_run(run_id).info())


@bp.delete("/api/labs/runs/<run_id>")
def stop_run(run_id: str):
    """Stop a run: its processes are killed and reaped."""
    get_run(run_id)
    run = runner().stop(run_id)
    return jsonify(id=run.id, status=run.status), 202
