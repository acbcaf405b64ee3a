"""Recorder: every broadcast of a dashboard, as it happens, into one SQLite file.

The core's :class:`~webapp.clients.ClientRegistry` hands each broadcast to :meth:`Recorder.tap`
(``changes`` with each op's writer and time, ``workers``, ``output``, ``pool_tasks``,
``program``, ``manager``, ``diagnoses``...), which only appends it to a deque: the thread
that broadcast it waits for nothing. One writer thread wakes every ``interval`` (0.1 s),
encodes what came and writes it in one transaction (WAL: a reader, or ``mpscope open``
after mpscope was killed, sees every committed batch, so a recording is readable up to
its last tenth of a second). Every ``snapshot_ops`` ops it also writes a snapshot of
every object and of the process table, so that the state at any moment is the snapshot
before it plus at most that many ops.

The file is bounded (``max_bytes``): past it, the oldest output is dropped first (the
``meta`` table says how much); with no output left to drop, recording stops, and says so.
The schema is docs/recording.md's.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import rawjson

logger = logging.getLogger(__name__)

FORMAT = "mpscope-recording"
FORMAT_VERSION = 1
INTERVAL = 0.1  # seconds between commits
SNAPSHOT_OPS = 20_000  # ops (and other replayed events) between two snapshots at most...
SNAPSHOT_SECONDS = 30.0  # ...or this long, once anything changed
SNAPSHOT_COST = 10  # ...but never more than 1/(SNAPSHOT_COST+1) of the time building them
SIZE_CHECK = 1.0  # seconds between two checks of the file's size

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE events(id INTEGER PRIMARY KEY, t REAL NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX events_t ON events(t);
CREATE INDEX events_type ON events(type, id);
CREATE TABLE snapshots(
    id INTEGER PRIMARY KEY, t REAL NOT NULL, after_event INTEGER NOT NULL,
    version INTEGER NOT NULL, objects TEXT NOT NULL, fields TEXT NOT NULL);
CREATE INDEX snapshots_after ON snapshots(after_event);
CREATE VIEW ops AS
    SELECT e.id AS event, json_extract(o.value, '$.seq') AS seq, json_extract(o.value, '$.t') AS t,
           json_extract(o.value, '$.pid') AS pid, json_extract(o.value, '$.object') AS object,
           json_extract(o.value, '$.kind') AS kind, json_extract(o.value, '$.op') AS op,
           o.value AS json
    FROM events e, json_each(e.data, '$.ops') o WHERE e.type = 'changes';
CREATE VIEW output_lines AS
    SELECT e.id AS event, json_extract(l.value, '$.pid') AS pid, json_extract(l.value, '$.n') AS n,
           json_extract(l.value, '$.t') AS t, json_extract(l.value, '$.stream') AS stream,
           json_extract(l.value, '$.text') AS text, json_extract(l.value, '$.open') AS open
    FROM events e, json_each(e.data, '$.lines') l WHERE e.type = 'output';
CREATE VIEW process_states AS
    SELECT e.id AS event, e.t AS t, json_extract(w.value, '$.pid') AS pid,
           json_extract(w.value, '$.ppid') AS ppid, json_extract(w.value, '$.name') AS name,
           json_extract(w.value, '$.role') AS role, json_extract(w.value, '$.state') AS state,
           json_extract(w.value, '$.exitcode') AS exitcode, json_extract(w.value, '$.waiting') AS waiting,
           w.value AS json
    FROM events e, json_each(e.data, '$.workers') w WHERE e.type = 'workers';
CREATE VIEW task_states AS
    SELECT e.id AS event, e.t AS t, json_extract(k.value, '$.id') AS id,
           json_extract(k.value, '$.pool') AS pool, json_extract(k.value, '$.func') AS func,
           json_extract(k.value, '$.pid') AS pid, json_extract(k.value, '$.state') AS state,
           json_extract(k.value, '$.queued_at') AS queued_at,
           json_extract(k.value, '$.started_at') AS started_at,
           json_extract(k.value, '$.ended_at') AS ended_at, k.value AS json
    FROM events e, json_each(e.data, '$.tasks') k WHERE e.type = 'pool_tasks';
"""


class RecordingRefused(Exception):
    """The file cannot be recorded into (not ours, or not writable)."""


def is_recording(path: Path) -> bool:
    """True if ``path`` is an SQLite file with mpscope's ``meta`` (so it may be replaced)."""
    try:
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        finally:
            con.close()
        return row is not None and row[0] == FORMAT
    except (OSError, sqlite3.Error):
        return False


def copy_database(path: Path | str, dest: str | os.PathLike, read_only: bool = False) -> None:
    """Copy what is committed in the SQLite file ``path`` into ``dest`` (a consistent file);
    ``read_only`` opens ``path`` so, for a recording that is only being served."""
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if read_only else sqlite3.connect(path)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def connect(path: Path | str) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives mpscope's death, not the machine's
    return con


class Recorder:
    """Writes every broadcast it is tapped with into ``path``, from one thread."""

    def __init__(
        self,
        path: str | os.PathLike,
        max_bytes: int = 1024 * 2**20,
        interval: float = INTERVAL,
        snapshot_ops: int = SNAPSHOT_OPS,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.interval = interval
        self.snapshot_ops = snapshot_ops
        self.pending: collections.deque[tuple[float, str, Any, str | None]] = collections.deque()
        self.recording = False
        self.stopped: str | None = None  # why recording stopped before the end
        self._wake = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._source: Callable[[], tuple[int, str, dict]] | None = None
        self._catch_up: Callable[[], Any] | None = None
        self._last_t = 0.0
        self._last_id = 0
        self._since_snapshot = 0
        self._snapshot_at = 0.0
        self._snapshot_cost = 0.0
        self._size_checked = 0.0
        self._dropped_output = 0
        self.con: sqlite3.Connection | None = None
        self._create()

    def _create(self) -> None:
        """Make a fresh recording (replacing an earlier recording at that path, nothing else)."""
        path = self.path
        if path.exists() and path.stat().st_size and not is_recording(path):
            raise RecordingRefused(f"{path} exists and is not an mpscope recording: not replacing it")
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            self.con = connect(path)
            self.con.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise RecordingRefused(f"cannot record into {path}: {exc}") from None

    # -- any thread ------------------------------------------------------------------
    def tap(self, event: str, data: Any, text: str | None = None) -> None:
        """One broadcast, as it is sent (``data()`` for a payload read at send time); ``text``:
        its JSON, when the clients' broadcast encoded it already (it is not encoded again)."""
        if not self.recording:
            return
        if callable(data):
            data = data()
        self.pending.append((time.time(), event, data, text))

    # -- lifecycle --------------------------------------------------------------------
    def start(
        self,
        source: Callable[[], tuple[int, str, dict]],
        meta: dict,
        catch_up: Callable[[], Any] | None = None,
    ) -> None:
        """Start recording: ``source()`` is ``(version, objects as JSON text, other fields)`` now.

        ``catch_up()`` is called before each commit: a feed that holds changes back while
        nobody watches (ManagerJournals) replays them, so that they are in this commit.
        """
        self._source = source
        self._catch_up = catch_up
        now = time.time()
        rows = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "started_at": now,
            "recorded_until": now,
            "max_bytes": self.max_bytes,
            "output_dropped_events": 0,
            "output_dropped_until": None,
            "stopped": None,
            **meta,
        }
        self._meta(rows)
        self.recording = True
        self._snapshot()
        self._thread = threading.Thread(target=self._run, name="mpscope-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is pending and a last snapshot; leave a complete file (WAL folded in)."""
        if self._thread is not None and self._thread.is_alive():
            self._done.set()
            self._wake.set()
            self._thread.join(30)
        if self.con is not None:
            try:
                self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.con.close()
            except sqlite3.Error:
                logger.exception("closing the recording failed")
            self.con = None

    def copy_to(self, dest: str | os.PathLike) -> None:
        """Copy what is committed so far into ``dest`` (a consistent SQLite file)."""
        copy_database(self.path, dest)

    # -- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        while True:
            done = self._done.is_set()
            try:
                self._commit(final=done)
            except Exception:
                logger.exception("recording failed: it stops here")
                self.stopped = "an error in the recorder (see mpscope's log)"
                self.recording = False
                return
            if done or not self.recording:
                return
            self._wake.wait(self.interval)

    def _commit(self, final: bool = False) -> None:
        if self._catch_up is not None:
            self._catch_up()  # held changes arrive in pending now
        con = self.con
        rows = []
        replayed = 0
        pending = self.pending
        last_t = self._last_t
        while pending:
            t, event, data, text = pending.popleft()
            if text is None:
                try:
                    text = _encode(data)
                except (TypeError, ValueError):
                    text = rawjson.dumps(data, separators=(",", ":"), default=repr)
            if t < last_t:
                t = last_t  # row times never go back: positions are found by time
            last_t = t
            rows.append((t, event, text))
            if event == "changes":
                replayed += len(data.get("ops", ()))
            elif event != "output":
                replayed += 1
        now = time.time()
        if rows or final:
            con.execute("BEGIN")
            con.executemany("INSERT INTO events(t, type, data) VALUES (?, ?, ?)", rows)
            self._set(con, "recorded_until", now)
            con.execute("COMMIT")
            self._last_t = last_t
            self._last_id = con.execute("SELECT max(id) FROM events").fetchone()[0] or 0
        self._since_snapshot += replayed
        due = self._since_snapshot >= self.snapshot_ops or (
            self._since_snapshot and now - self._snapshot_at >= SNAPSHOT_SECONDS
        )
        if final or (due and now - self._snapshot_at >= SNAPSHOT_COST * self._snapshot_cost):
            self._snapshot()
        if now - self._size_checked >= SIZE_CHECK or final:
            self._size_checked = now
            self._bound()

    def _snapshot(self) -> None:
        """Every object and the process table now (after every event written so far)."""
        started = time.monotonic()
        version, objects, fields = self._source()
        fields_text = rawjson.dumps(fields, separators=(",", ":"), default=repr)
        self.con.execute(
            "INSERT INTO snapshots(t, after_event, version, objects, fields) VALUES (?, ?, ?, ?, ?)",
            (max(time.time(), self._last_t), self._last_id, version, objects, fields_text),
        )
        self._since_snapshot = 0
        self._snapshot_at = time.time()
        self._snapshot_cost = time.monotonic() - started

    def _bound(self) -> None:
        """Past ``max_bytes``, drop the oldest output; with none left, stop recording."""
        con = self.con
        size = self.size()
        while size > self.max_bytes:
            count = con.execute("SELECT count(*) FROM events WHERE type = 'output'").fetchone()[0]
            if not count:
                self.stopped = f"the recording reached --record-max-mib ({self.max_bytes // 2**20} MiB)"
                self._meta({"stopped": self.stopped, "stopped_at": time.time()})
                self.recording = False
                self.pending.clear()
                logger.warning("recording stopped: %s", self.stopped)
                return
            chunk = max(100, count // 10)
            con.execute("BEGIN")
            oldest = "SELECT id, t FROM events WHERE type = 'output' ORDER BY id LIMIT ?"
            last = con.execute(f"SELECT max(id), max(t) FROM ({oldest})", (chunk,)).fetchone()
            deleted = con.execute("DELETE FROM events WHERE type = 'output' AND id <= ?", (last[0],)).rowcount
            self._dropped_output += deleted
            self._set(con, "output_dropped_events", self._dropped_output)
            self._set(con, "output_dropped_until", last[1])
            con.execute("COMMIT")
            size = self.size()

    def size(self) -> int:
        """Bytes the recording's pages hold (free pages, which SQLite reuses, not counted)."""
        con = self.con
        pages = (
            con.execute("PRAGMA page_count").fetchone()[0]
            - con.execute("PRAGMA freelist_count").fetchone()[0]
        )
        return pages * con.execute("PRAGMA page_size").fetchone()[0]

    # -- meta ----------------------------------------------------------------------------
    def _meta(self, rows: dict) -> None:
        con = self.con
        con.execute("BEGIN")
        for key, value in rows.items():
            self._set(con, key, value)
        con.execute("COMMIT")

    @staticmethod
    def _set(con: sqlite3.Connection, key: str, value: Any) -> None:
        text = value if isinstance(value, str) or value is None else json.dumps(value)
        con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, text))
