"""The commands clients may give (spawn, kill, reset, clear), validated once for REST and Socket.IO.

Each command takes the already-decoded request body or arguments, checks every field,
and either returns the JSON result or raises :class:`ApiError` with a 4xx status and a
message that names the bad field. Nothing is changed when a check fails.
"""

from __future__ import annotations

from typing import Any

from sharedstate.kinds.locks import named_lock_id
from workers.registry import ParamError, get_task

from ..dashboard import Dashboard
from ..process_record import SIGNALS, Conflict, NotFound
from ..state import ManagerUnavailable

MAX_PID = 2**22  # Linux's pid_max ceiling


class ApiError(Exception):
    """A client error: ``status`` is the HTTP code, the message says what was wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_rate(dashboard: Dashboard, client: str) -> None:
    """Refuse a command from a client that sends them faster than the rate limit."""
    if not dashboard.ratelimit.allow(client):
        raise ApiError(429, "too many commands from this client: slow down")


def parse_pid(value: Any) -> int:
    """Return ``value`` as a PID, or raise a 400/404 ApiError."""
    if isinstance(value, bool):
        raise ApiError(400, "'pid' must be an integer")
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 10:
            raise ApiError(400, f"'pid' must be a positive integer, not {value[:32]!r}")
        value = int(value)
    if not isinstance(value, int):
        raise ApiError(400, "'pid' must be an integer")
    if not 0 < value < MAX_PID:
        raise ApiError(404, f"no running worker with PID {value}")
    return value


def parse_signal(value: Any) -> str:
    if value is None:
        return "TERM"
    name = value.upper().removeprefix("SIG") if isinstance(value, str) else None
    if name not in SIGNALS:
        raise ApiError(400, "'signal' must be one of TERM, KILL, INT")
    return name


def json_object(body: Any) -> dict:
    """A command's arguments: a JSON object, or ``{}`` when none came."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def spawn(dashboard: Dashboard, body: Any) -> dict:
    """Start workers: ``{"count": N, "task": NAME, "params": {...}}``, all optional."""
    body = json_object(body)
    unknown = set(body) - {"count", "task", "params"}
    if unknown:
        raise ApiError(400, f"unknown field '{str(sorted(unknown, key=str)[0])[:64]}'")
    count = body.get("count", 1)
    limit = dashboard.config["MAX_WORKERS"]
    if type(count) is not int or not 1 <= count <= limit:
        raise ApiError(400, f"'count' must be an integer from 1 to {limit}")
    try:
        task = get_task(body.get("task", "append_pid"))
        params = task.validate(body.get("params"))
    except ParamError as exc:
        raise ApiError(400, str(exc)) from None
    _check_objects(dashboard, task.shared(params))
    try:
        return {"workers": dashboard.backend.spawn_workers(count, task.name, params)}
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None


def _check_objects(dashboard: Dashboard, uses: dict) -> None:
    """Refuse a task whose named Barrier exists with another number of parties: it would hang."""
    for use in uses.values():
        if use is None or use[0] != "Barrier":
            continue
        obj = dashboard.mirror.object(use[1])
        if obj is not None and obj["value"]["parties"] != use[2][0]:
            raise ApiError(
                400,
                f"barrier {use[1].split(':', 1)[1]!r} already exists with {obj['value']['parties']} parties;"
                " use that number or another name",
            )


def kill(dashboard: Dashboard, pid: Any, sig: Any = None) -> dict:
    """Signal one running worker of ours; anything else is a 404 and nothing is sent."""
    pid, name = parse_pid(pid), parse_signal(sig)
    try:
        return {"worker": dashboard.processes.kill_worker(pid, name), "signal": f"SIG{name}"}
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None


def kill_all(dashboard: Dashboard, sig: Any = None) -> dict:
    name = parse_signal(sig)
    return {"killed": dashboard.processes.kill_all(name), "signal": f"SIG{name}"}


def clear_ended(dashboard: Dashboard) -> dict:
    return {"cleared": dashboard.processes.clear_ended()}


def reset(dashboard: Dashboard) -> dict:
    """Empty the shared dict and list."""
    try:
        return {"version": dashboard.backend.reset()}
    except ManagerUnavailable as exc:
        raise ApiError(409, str(exc)) from None


def break_lock(dashboard: Dashboard, name: str) -> dict:
    """Release lock ``name`` only if its holder is dead; a live holder's lock is left alone."""
    locks = {lock["name"]: lock for lock in dashboard.mirror.snapshot_locks()}
    lock = locks.get(name)
    if lock is None:
        raise ApiError(404, f"no shared lock named {name[:64]!r}")
    holder = lock["holder_pid"]
    if holder is None:
        raise ApiError(409, f"lock {name!r} is not held")
    if dashboard.is_alive(holder):
        raise ApiError(409, f"lock {name!r} is held by PID {holder}, which is alive")
    try:
        dashboard.backend.release(named_lock_id(name), holder)
    except ManagerUnavailable as exc:
        raise ApiError(409, str(exc)) from None
    return {"released": name, "holder_pid": holder}


def release_object(dashboard: Dashboard, oid: str, body: Any) -> dict:
    """Release a lock-like object on behalf of a holder that died; a live holder keeps it."""
    obj = dashboard.mirror.object(oid)
    if obj is None or "holders" not in (obj["value"] if isinstance(obj["value"], dict) else {}):
        raise ApiError(404, f"no lock, semaphore or condition with id {oid[:64]!r}")
    holders = [h["pid"] for h in obj["value"]["holders"]]
    pid = body.get("pid") if isinstance(body, dict) else None
    if pid is None and len(holders) == 1:
        pid = holders[0]
    if type(pid) is not int or pid not in holders:
        raise ApiError(409 if not holders else 400, f"give the PID of a holder of {oid!r}: one of {holders}")
    if dashboard.is_alive(pid):
        raise ApiError(409, f"{oid!r} is held by PID {pid}, which is alive")
    try:
        if obj.get("origin") == "native":  # one of multiprocessing's own: a process of the program frees it
            dashboard.native.release(oid, obj["kind"], pid, dashboard.is_alive)
        else:
            dashboard.backend.release(oid, pid)
    except ManagerUnavailable as exc:
        raise ApiError(409, str(exc)) from None
    return {"released": oid, "holder_pid": pid}
