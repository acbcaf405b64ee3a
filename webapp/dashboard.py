"""Dashboard: the core every mode shares — output, mirror, clients, agents, process table — and its back end.

Created once per app by :func:`webapp.create_app`, which picks the back end for the mode
(:class:`~webapp.builtin.BuiltinWorkers`, or the watched program's
:class:`~webapp.program.watch.ProgramWatch`) and hands it to :meth:`attach`. The core
has no mode of its own: what differs, the back end answers. Stored in
``app.extensions``, as Flask-SocketIO stores itself; :meth:`close` is the one place that
stops everything.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
import time
from typing import Protocol

import psutil
from flask import current_app

from mpscope_agent import protocol
from workers.manager import FORKSERVER_PRELOAD

from .agents.hub import AgentHub
from .clients import ClientRegistry
from .diagnoses import Diagnoses
from .journals import ManagerJournals
from .mirror import SharedStateMirror
from .native import NativeLocks, NativeObjects
from .native.pace import NativePace
from .output import OutputCapture
from .processes import ProcessTable
from .ratelimit import RateLimiter
from .recording import Recorder
from .snapshots import SnapshotCache
from .sockets import socketio

logger = logging.getLogger(__name__)


class BackEnd(Protocol):
    """What a mode adds to the core: where processes and shared objects come from."""

    mode: str  # "builtin" or "program": which page the index serves

    def fields(self) -> dict: ...
    def manager_info(self) -> dict: ...
    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]: ...
    def reset(self) -> int: ...
    def manager_contents(self) -> dict: ...
    def release(self, oid: str, pid: int) -> None: ...
    def processes_ended(self, pids: set[int]) -> None: ...
    def pool_tasks(self) -> list[dict]: ...
    def stopping(self, interrupted: bool = False) -> None: ...
    def close(self) -> None: ...


class Dashboard:
    """Everything one running mpscope server owns."""

    def __init__(self, config: dict, echo_output: bool = False, process_noun: str = "worker") -> None:
        """``echo_output``: processes' output is also copied to our terminal (a watched program's)."""
        self.config = config
        self.started_at = time.time()
        self.ctx = multiprocessing.get_context(config["START_METHOD"])
        if config["START_METHOD"] == "forkserver":
            self.ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        self.output = OutputCapture(
            self._emit_output, scrollback=config["SCROLLBACK"], ended_budget=config["ENDED_OUTPUT_BYTES"]
        )
        self.mirror = SharedStateMirror()
        self.clients = ClientRegistry(socketio, SnapshotCache(self.mirror), self.snapshot_fields)
        # A watched program comes first: the threads that work per op of its (replay, encode,
        # push) yield the cores to it. The built-in workers are the dashboard's own, and their
        # page comes first: a reader (a poller, a joining page) must not hold the feed back by
        # outranking it (niced, the live push p99 doubled while a poller and joining pages read)
        self.hub = AgentHub(self.output, echo=echo_output, nice=echo_output)
        self.processes = ProcessTable(
            self._emit_workers, self.hub.ask_stack, self.output.forget, config["ENDED_CAP"], process_noun
        )
        self.hub.serve(self.processes)
        self.journals = ManagerJournals(
            self.mirror,
            lambda payload: self.broadcast("changes", payload),
            self.clients.watching,
            nice=echo_output,
        )
        self.journals.tell = self.hub.send
        self.journals.reloaded = self.resync_all
        self.diagnoses = Diagnoses(
            self.processes,
            self.mirror,
            lambda: self.backend.pool_tasks() if self.backend is not None else [],
            lambda payload: self.clients.broadcast("diagnoses", payload),
        )
        self.native = NativeLocks(self.journals, self.hub.send)
        self.native_objects = NativeObjects(self.journals)
        # a page joining reads the mirror first: every process then samples its Values again
        self.native_pace = NativePace(
            self.hub.send, self.clients.watching, lambda pid: pid in self.journals.told
        )
        self.mirror.before_read = _both(self.native_pace.catch_up, self.mirror.before_read)
        self.hub.on(protocol.NATIVE, self._native)
        self.hub.on(protocol.WAIT, self._wait)
        self.hub.on(protocol.JOURNAL, self._journal)
        self.hub.on(protocol.JOURNAL_SNAPSHOT, self._journal)
        self.backend: BackEnd | None = None
        self.recorder: Recorder | None = None  # --record: every broadcast into a file (webapp/recording)
        self.ratelimit = RateLimiter(config["RATE_LIMIT"], burst=max(1, int(config["RATE_LIMIT"] * 2)))
        self._closed = threading.Event()
        # Whatever way the process ends, stop our processes first: otherwise the
        # interpreter's own exit handlers kill the Manager and the feed "restarts" it.
        atexit.register(self.close)

    def attach(self, backend: BackEnd) -> None:
        self.backend = backend

    def record(self, path: str, max_bytes: int) -> None:
        """Record every broadcast from now on into ``path`` (after :meth:`attach`)."""
        self.recorder = Recorder(path, max_bytes)
        self.clients.tap = self.recorder.tap
        program = self.backend.fields().get("program") or {}
        meta = {"mode": self.backend.mode, "argv": program.get("argv"), "server_pid": os.getpid()}
        self.recorder.start(self._recorded_state, meta, self.mirror.current_version)

    def _recorded_state(self) -> tuple[int, str, dict]:
        """A recording's snapshot: every object (JSON text) and what a snapshot holds besides."""
        parts = self.mirror.snapshot_parts()
        fields = self.snapshot_fields()
        fields.pop("output", None)  # every line is in the recording's events already
        return parts["version"], parts["objects"], fields

    def broadcast(self, event: str, payload: object) -> None:
        self.clients.broadcast(event, payload)
        if event == "changes":
            self.diagnoses.changed(payload)
        else:
            self.diagnoses.poke()  # a process, a task, an output line may prove or end a hang

    # -- what clients see ------------------------------------------------------
    def snapshot(self) -> dict:
        """The full state as sent in ``snapshot`` and ``GET /api/state``."""
        return {**self.mirror.snapshot_parts(), **self.snapshot_fields()}

    def snapshot_fields(self) -> dict:
        """What a snapshot holds besides the shared objects, read at send time.

        The named locks are here, not in the mirror's part built once per version, because
        each holder's liveness changes without a version: the page marks a dead holder even
        once its row is cleared.
        """
        locks = [
            {
                **lock,
                "holder_alive": None if lock["holder_pid"] is None else self.is_alive(lock["holder_pid"]),
            }
            # sent with a snapshot just built, which replayed what a program's feed held:
            # no catch-up here (a client's snapshot is sent under the lock its broadcast takes)
            for lock in self.mirror.snapshot_locks(catch_up=False)
        ]
        return {
            "locks": locks,
            "workers": self.processes.infos(),
            "output": self.output.recent(),
            "manager": self.backend.manager_info(),
            "limits": {
                "max_workers": self.config["MAX_WORKERS"],
                "ended_cap": self.config["ENDED_CAP"],
                "scrollback": self.config["SCROLLBACK"],
                "max_locks": self.config["MAX_LOCKS"],
                "ended_output_bytes": self.config["ENDED_OUTPUT_BYTES"],
            },
            "read_only": self.config["READ_ONLY"],
            "server_pid": os.getpid(),
            "diagnoses": self.diagnoses.all(),
            **self.backend.fields(),
        }

    def is_alive(self, pid: int) -> bool:
        """True if ``pid`` is a running process (a lock holder that died is not)."""
        worker = self.processes.get(pid)
        if worker is not None:
            return worker.alive()
        return pid == os.getpid() or psutil.pid_exists(pid)

    def resync_all(self) -> None:
        self.clients.resync_all()

    # -- callbacks from the parts ----------------------------------------------
    def _emit_workers(self, workers: list[dict], removed: list[int]) -> None:
        pids = [w["pid"] for w in workers]

        def payload() -> dict:
            # Each worker's info as it is when sent, not when the change was seen: two threads
            # report workers (a spawn, the monitor), and the page keeps the last info it gets.
            # A worker no longer in the table was removed, and its removal is sent on its own.
            now = [w.info() for pid in pids if (w := self.processes.get(pid)) is not None]
            return {"workers": now, "removed": removed}

        self.broadcast("workers", payload)
        ended = {w["pid"] for w in workers if w["ended_at"] is not None}
        if ended:
            self.native.ended(ended)
            self.native_objects.processes_ended(ended)
            self.native_pace.ended(ended)
        if ended and self.backend is not None:
            self.backend.processes_ended(ended)

    def _native(self, pid: int, message: dict) -> None:
        """The program's own objects: its locks, and the other kinds' facts."""
        self.native.receive(pid, message)
        self.native_objects.receive(pid, message)
        self.native_pace.heard(pid)

    def _wait(self, pid: int, message: dict) -> None:
        waiting = message.get("waiting")
        self.native.waiting(pid, waiting)
        self.native_objects.waiting(pid, waiting)

    def _journal(self, pid: int, message: dict) -> None:
        kind = message.get("t")
        if (kind == protocol.JOURNAL and isinstance(message.get("entries"), str)) or (
            kind == protocol.JOURNAL_SNAPSHOT and isinstance(message.get("objects"), str)
        ):
            self.journals.receive(pid, message)

    def _emit_output(self, lines: list[dict], skipped: int) -> None:
        self.diagnoses.stderr_lines(lines)
        # skipped: lines left out of the live stream (more waited to be sent than it carries)
        self.clients.broadcast(
            "output", {"lines": lines, "skipped": skipped} if skipped else {"lines": lines}
        )

    def stopping(self, interrupted: bool = False) -> None:
        """The server is stopping (a signal; ``interrupted``: SIGINT, as Ctrl-C sends the whole
        foreground process group): the back end stops expecting its parts to live."""
        if self.backend is not None:
            self.backend.stopping(interrupted)

    def close(self) -> None:
        """Stop the back end, the processes and the clients; leave no process behind."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self.backend is not None:
            self.backend.close()
        self.processes.close()
        self.hub.close()
        self.journals.close()
        self.diagnoses.close()
        self.clients.close()
        self.output.close()
        if self.recorder is not None:
            self.recorder.close()  # last: what the parts above sent as they stopped is in it
        logger.info("mpscope stopped")


def current_dashboard() -> Dashboard:
    return current_app.extensions["mpscope"]


def _both(first, then):
    """Call ``first``, then ``then`` (if any)."""

    def both() -> None:
        first()
        if then is not None:
            then()

    return both
