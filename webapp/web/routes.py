"""HTTP routes: the dashboard page and the JSON API. Views validate, call, and return JSON.

Who may call what is decided before any view runs, in :mod:`webapp.web.access`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from workers.registry import TASKS

from ..dashboard import current_dashboard
from ..locks import describe_locks, single_holder_locks
from ..mirrored import MIRROR_FIELDS
from ..process_record import NotFound
from ..snapshots import encoded, json_object
from ..state import ManagerUnavailable
from . import commands
from .commands import ApiError, parse_pid

bp = Blueprint("dashboard", __name__)


def json_body() -> Any:
    """Return the decoded JSON body (None when there is none); refuse other content types.

    Werkzeug refuses a body whose Content-Length is over MAX_CONTENT_LENGTH, but a
    chunked body (no Content-Length) is silently cut at the limit: refuse that too,
    rather than parse what is left of it.
    """
    if not request.content_length and not request.mimetype:
        return None
    if request.mimetype != "application/json":
        raise ApiError(415, "the request body must be JSON (Content-Type: application/json)")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = request.stream.read(limit)
    if len(data) == limit and request.stream.read(1):
        raise ApiError(413, f"the request body is larger than {limit} bytes")
    if not data.strip():
        return None
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        body = None
    if body is None:
        raise ApiError(400, "the request body is not valid JSON")
    return body


@bp.get("/")
def index():
    """Show the dashboard."""
    return render_template(
        "index.html",
        read_only=request.environ.get("mpscope.read_only", False),
        mode=current_dashboard().backend.mode,
    )


@bp.get("/api/session")
def client_session():
    """What this client's token allows: the page asks, with its token, before it shows controls
    (its shell is served without one)."""
    return jsonify(read_only=bool(request.environ.get("mpscope.read_only", False)))


@bp.get("/healthz")
def healthz():
    """Report that the server is up, with its Manager's PID and restart count."""
    dash = current_dashboard()
    manager = dash.backend.manager_info()
    return jsonify(
        status="ok",
        manager_pid=manager["pid"],
        manager_restarts=manager["restarts"],
        server_pid=os.getpid(),
        workers=dash.processes.live_count(),
        version=dash.mirror.current_version(),
    )


@bp.get("/api/state")
def get_state():
    """Return the shared state and workers; ``?source=manager`` reads the Manager itself."""
    dash = current_dashboard()
    source = request.args.get("source")
    if source is not None and source != "manager":
        raise ApiError(400, "'source' must be 'manager' (or left out for the server's copy)")
    if source == "manager":
        try:
            snap = dash.backend.manager_contents()
        except ManagerUnavailable as exc:
            raise ApiError(409, str(exc)) from None
        return jsonify({k: snap[k] for k in ("version", "list", "dict", "objects")})
    fields = request.args.get("fields")
    if fields is None:
        # the snapshot the socket clients share, its bytes written as they are (no copy)
        snap = dash.clients.cache.get()
        head = snap.head(dash.snapshot_fields())
        length = {"Content-Length": str(snap.size(head))}
        return Response(list((head, *snap.members)), mimetype="application/json", headers=length)
    # only what is asked for: the mirror's fields from the shared snapshot's pieces (built
    # only if one of them is asked for), the others read now (only if one of them is)
    wanted = list(dict.fromkeys(f for f in fields.split(",") if f))
    mirror_fields = [f for f in wanted if f in MIRROR_FIELDS]
    head = {} if len(mirror_fields) == len(wanted) else dash.snapshot_fields()
    known = [*MIRROR_FIELDS, *head]
    if not wanted or any(f not in known for f in wanted):
        if not head:
            known += dash.snapshot_fields()
        raise ApiError(400, f"'fields' takes a comma-separated list of: {', '.join(dict.fromkeys(known))}")
    if mirror_fields == ["version"]:
        head["version"] = dash.mirror.current_version()  # nothing else of the mirror's
    if any(f not in head for f in wanted):
        body = dash.clients.cache.get().fields(wanted, head)
    else:
        body = (json.dumps({f: head[f] for f in wanted}, separators=(",", ":")).encode(),)
    length = {"Content-Length": str(sum(map(len, body)))}
    return Response(list(body), mimetype="application/json", headers=length)


def _only_fields(payload: dict) -> dict:
    """Keep only the top-level fields named in ``?fields=a,b`` (all when it is absent)."""
    fields = request.args.get("fields")
    if fields is None:
        return payload
    wanted = [f for f in fields.split(",") if f]
    unknown = [f for f in wanted if f not in payload]
    if unknown or not wanted:
        raise ApiError(400, f"'fields' takes a comma-separated list of: {', '.join(payload)}")
    return {f: payload[f] for f in wanted}


def _int_arg(name: str, default: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ApiError(400, f"'{name}' must be a non-negative integer")
    return int(text)


@bp.get("/api/objects/<oid>")
def get_object(oid: str):
    """Return one shared object: its kind, label and value, at the server's current version.

    ``?offset=&limit=`` pages an object whose value is a sequence (dict, list, Queue and
    Array items), and says ``total``; ``?fields=`` keeps only the named fields.
    """
    offset, limit = _int_arg("offset", 0), _int_arg("limit", 0)
    fields = request.args.get("fields")
    if not offset and not limit:
        return _whole_object(oid, fields)
    wanted = set() if fields is None else set(fields.split(","))
    # the value and writers (a 100,000-entry dict's) are not built when they are left out
    leave_out = frozenset() if fields is None else frozenset({"value", "writers"} - wanted)
    obj = current_dashboard().mirror.object(oid, offset, limit or None, leave_out)
    if obj is None:
        raise ApiError(404, f"no shared object with id {oid[:64]!r}")
    return jsonify(_only_fields(obj))


def _whole_object(oid: str, fields: str | None) -> Response:
    """``GET /api/objects/<oid>`` unpaged: the value and writers are the replica's cached
    JSON pieces, written as they are (a 100,000-entry dict is never built or encoded whole)."""
    found = current_dashboard().mirror.object_pieces(oid)
    if found is None:
        raise ApiError(404, f"no shared object with id {oid[:64]!r}")
    head, value, writers = found
    members = {name: encoded(head[name]) for name in ("id", "version", "kind", "label", "origin")}
    members["value"] = value
    if "manager_pid" in head:
        members["manager_pid"] = encoded(head["manager_pid"])
    if writers is not None:
        members["writers"] = writers
    if "truncated" in head:  # entries beyond --max-entries, not kept
        members["truncated"] = encoded(head["truncated"])
    if fields is not None:
        wanted = [f for f in fields.split(",") if f]
        if not wanted or any(f not in members for f in wanted):
            raise ApiError(400, f"'fields' takes a comma-separated list of: {', '.join(members)}")
        members = {f: members[f] for f in wanted}
    body = json_object(members)
    length = {"Content-Length": str(sum(map(len, body)))}
    return Response(list(body), mimetype="application/json", headers=length)


@bp.post("/api/objects/<oid>/release")
def release_object(oid: str):
    """Release a lock, semaphore or condition on behalf of a holder that died."""
    body = json_body()
    return jsonify(commands.release_object(current_dashboard(), oid, body))


@bp.post("/api/state/reset")
def reset_state():
    """Empty the shared dict and list."""
    json_body()
    return jsonify(commands.reset(current_dashboard()))


@bp.get("/api/tasks")
def list_tasks():
    """List the tasks a worker can run, with their params and limits."""
    return jsonify([task.describe() for task in TASKS.values()])


@bp.post("/api/workers")
def spawn_workers():
    """Start workers; 201 once their processes exist."""
    body = json_body()
    return jsonify(commands.spawn(current_dashboard(), body)), 201


@bp.delete("/api/workers/<pid>")
def kill_worker(pid: str):
    """Signal one running worker of this server (default SIGTERM)."""
    json_body()  # a DELETE may carry a body too: it must be JSON like any other
    return jsonify(commands.kill(current_dashboard(), pid, request.args.get("signal"))), 202


@bp.delete("/api/workers")
def delete_workers():
    """``?state=ended`` clears ended workers; ``?state=running`` signals all running ones."""
    dash = current_dashboard()
    json_body()
    state = request.args.get("state")
    if state == "ended":
        return jsonify(commands.clear_ended(dash))
    if state == "running":
        return jsonify(commands.kill_all(dash, request.args.get("signal"))), 202
    raise ApiError(400, "'state' must be 'ended' or 'running'")


def our_worker(pid: str):
    """Return a worker this server started (running or ended), or raise a 404."""
    worker = current_dashboard().processes.get(parse_pid(pid))
    if worker is None:
        raise ApiError(404, f"no worker with PID {pid} was started by this server")
    return worker


@bp.get("/api/workers/<pid>")
def get_worker(pid: str):
    """Return one worker of this server, running or ended."""
    return jsonify(our_worker(pid).info())


@bp.get("/api/workers/<pid>/output")
def worker_output(pid: str):
    """Return a worker's captured output after line ``since`` and how many lines were dropped."""
    worker = our_worker(pid)
    since = request.args.get("since", "0")
    if not (since.isascii() and since.isdigit()) or len(since) > 15:
        raise ApiError(400, "'since' must be a non-negative integer")
    found = current_dashboard().output.lines(worker.pid, int(since))
    if found is None:
        raise ApiError(404, f"no output kept for PID {pid}")
    lines, dropped, total = found
    if int(since) > total:
        raise ApiError(400, f"'since' is beyond the last line ({total})")
    return jsonify(lines=lines, dropped=dropped, total=total)


@bp.get("/api/workers/<pid>/stack")
def worker_stack(pid: str):
    """Return every thread's current stack, taken inside the running worker."""
    processes = current_dashboard().processes
    number = parse_pid(pid)
    try:
        threads = processes.stack(number)
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except TimeoutError as exc:
        raise ApiError(504, str(exc)) from None
    return jsonify(pid=number, threads=threads)


@bp.get("/api/diagnoses")
def list_diagnoses():
    """The hangs named now: each with its kind, plain words, the fix, its processes and objects."""
    return jsonify(diagnoses=current_dashboard().diagnoses.all())


@bp.get("/api/locks")
def list_locks():
    """Return each shared lock's holder and waiters, and any deadlock cycles."""
    dash = current_dashboard()
    mirror = dash.mirror
    table = describe_locks(mirror.snapshot_locks(), dash.is_alive, single_holder_locks(mirror.lock_objects()))
    return jsonify(table)


@bp.post("/api/locks/<name>/release")
def release_lock(name: str):
    """Release a lock whose holder died, so that its waiters can go on."""
    json_body()
    return jsonify(commands.break_lock(current_dashboard(), name))
