"""RecordingReader: a recording's events, and the whole state at any moment of it.

The state after event E is the last snapshot written after an event at or before E, plus
the ops after its version and the other events after it, up to E (docs/recording.md). A
snapshot is written every 20,000 ops at most, so a position costs one snapshot's load and
at most that many ops replayed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharedstate.kinds import Replica, replica_for

LOOKAHEAD = 2.0  # seconds: how late a batch of ops may be written after its ops were applied
OUTPUT_LINES = 500  # the latest lines a position shows (as the live page's snapshot does)


@dataclass
class RecordedObject:
    kind: str
    label: str
    replica: Replica
    manager_pid: int | None = None
    origin: str = "manager"


@dataclass
class State:
    """Everything the dashboard knew just after one event."""

    event: int
    t: float
    version: int
    objects: dict[str, RecordedObject]
    workers: dict[int, dict]
    pool_tasks: dict[str, dict]
    fields: dict[str, Any]  # the rest: program, manager, diagnoses...
    output: list[dict] = field(default_factory=list)

    def apply(self, event: str, data: dict) -> None:
        """Apply one recorded broadcast (``changes``, ``workers``...; output is read apart)."""
        if event == "changes":
            for op in data.get("ops", ()):
                if op["seq"] > self.version:
                    apply_op(self.objects, op)
                    self.version = op["seq"]
        elif event == "workers":
            for info in data.get("workers", ()):
                self.workers[info["pid"]] = info
            for pid in data.get("removed", ()):
                self.workers.pop(pid, None)
        elif event == "pool_tasks":
            for task in data.get("tasks", ()):
                self.pool_tasks[task["id"]] = task
        elif event in ("program", "manager"):
            self.fields[event] = data
        elif event == "diagnoses":
            self.fields["diagnoses"] = data.get("diagnoses", data)

    def object_values(self) -> dict[str, dict]:
        """Every object as ``GET /api/state``'s ``objects`` has it."""
        out = {}
        for oid, obj in self.objects.items():
            item = {"kind": obj.kind, "label": obj.label, "origin": obj.origin, "value": obj.replica.value()}
            if obj.manager_pid is not None:
                item["manager_pid"] = obj.manager_pid
            writers = obj.replica.writers()
            if writers is not None:
                item["writers"] = writers
            out[oid] = item
        return out


def make_object(info: dict) -> RecordedObject:
    kind, origin = info["kind"], info.get("origin") or "manager"
    return RecordedObject(
        kind,
        info.get("label") or "",
        replica_for(kind, origin)(info["value"], info.get("writers")),
        info.get("manager_pid"),
        origin,
    )


def apply_op(objects: dict[str, RecordedObject], op: dict) -> None:
    name = op["op"]
    if name == "create":
        objects[op["object"]] = make_object(op)
    elif name == "forget":
        objects.pop(op["object"], None)
    else:
        obj = objects.get(op["object"])
        if obj is not None:
            obj.replica.apply(op)
            obj.replica.changed()


class RecordingReader:
    """Reads one recording (never writes it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self.meta = self._read_meta()
        except sqlite3.Error:
            # a read-only place with the WAL folded in: read the file as it is
            self.con = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, check_same_thread=False)
            self.meta = self._read_meta()
        first = self.con.execute("SELECT min(t) FROM snapshots").fetchone()[0]
        last = self.con.execute("SELECT max(t) FROM events").fetchone()[0]
        until = self.meta.get("recorded_until")
        self.start = float(self.meta.get("started_at") or first or 0.0)
        self.end = max(x for x in (self.start, first, last, until) if x is not None)

    def _read_meta(self) -> dict[str, Any]:
        meta = {}
        for key, value in self.con.execute("SELECT key, value FROM meta"):
            try:
                meta[key] = json.loads(value) if value is not None else None
            except ValueError:
                meta[key] = value
        return meta

    def close(self) -> None:
        self.con.close()

    # -- positions ---------------------------------------------------------------------
    def event_at(self, t: float) -> int:
        """The last event at or before ``t`` (0: before the first)."""
        row = self.con.execute("SELECT max(id) FROM events WHERE t <= ?", (t,)).fetchone()
        return row[0] or 0

    def events(
        self, after: int, until: int | None = None, limit: int = 1000
    ) -> list[tuple[int, float, str, str]]:
        """Events ``(id, t, type, data as JSON text)`` after id ``after`` (up to ``until``)."""
        if until is None:
            sql, args = (
                "SELECT id, t, type, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            )
        else:
            sql = "SELECT id, t, type, data FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
            args = (after, until, limit)
        return self.con.execute(sql, args).fetchall()

    def all_events(self, types: tuple[str, ...] | None = None) -> Iterator[tuple[int, float, str, dict]]:
        """Every event, decoded, in order (``types``: only those)."""
        sql = "SELECT id, t, type, data FROM events"
        if types:
            sql += f" WHERE type IN ({','.join('?' * len(types))})"
        for eid, t, kind, data in self.con.execute(sql + " ORDER BY id", types or ()):
            yield eid, t, kind, json.loads(data)

    def state_at(self, t: float) -> State:
        """The state at time ``t``: after every event at or before it, and every op applied by then.

        An op reaches the file a little after its Manager applied it (its batch is written
        at the next commit), so the ops of the batches written just after ``t`` that the
        Manager applied by ``t`` (their own ``t``) are applied too, in order.
        """
        state = self.state_after(self.event_at(t), t)
        rows = self.con.execute(
            "SELECT data FROM events WHERE id > ? AND type = 'changes' AND t <= ? ORDER BY id",
            (state.event, t + LOOKAHEAD),
        )
        for (data,) in rows:
            for op in json.loads(data).get("ops", ()):
                if op.get("t", 0) > t:
                    return state
                if op["seq"] > state.version:
                    apply_op(state.objects, op)
                    state.version = op["seq"]
        return state

    def state_after(self, event: int, t: float | None = None) -> State:
        snap = self.con.execute(
            "SELECT after_event, version, objects, fields, t FROM snapshots WHERE after_event <= ? "
            "ORDER BY after_event DESC, id DESC LIMIT 1",
            (event,),
        ).fetchone()
        if snap is None:  # before the first snapshot (none: an empty recording)
            snap = (0, 0, "{}", "{}", self.start)
        after, version, objects_text, fields_text, snap_t = snap
        fields = json.loads(fields_text)
        workers = {w["pid"]: w for w in fields.pop("workers", [])}
        tasks = {task["id"]: task for task in fields.pop("pool_tasks", [])}
        objects = {oid: make_object(info) for oid, info in json.loads(objects_text).items()}
        state = State(event, snap_t if t is None else t, version, objects, workers, tasks, fields)
        rows = self.con.execute(
            "SELECT type, data FROM events WHERE id > ? AND id <= ? AND type != 'output' ORDER BY id",
            (after, event),
        )
        for kind, data in rows:
            state.apply(kind, json.loads(data))
        state.output = self.output_before(event)
        return state

    def output_before(self, event: int, limit: int = OUTPUT_LINES) -> list[dict]:
        """The last ``limit`` output lines at event ``event``, each in its latest state then."""
        rows = self.con.execute(
            "SELECT data FROM events WHERE type = 'output' AND id <= ? ORDER BY id DESC LIMIT ?",
            (event, limit),
        ).fetchall()
        lines: dict[tuple[int, int], dict] = {}
        for (data,) in reversed(rows):
            for line in json.loads(data).get("lines", ()):
                key = (line.get("pid"), line.get("n"))
                lines.pop(key, None)  # a line printed in pieces: its latest state, at its place
                lines[key] = line
        return list(lines.values())[-limit:]
