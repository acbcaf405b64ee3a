"""Dashboard: builds the long-lived parts (state, supervisor, output, feed) and wires them.

Created once per app in :func:`Dashboard.init_app` and stored in ``app.extensions``, as
Flask-SocketIO stores itself; :meth:`Dashboard.close` is the one place that stops them.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
import time

import psutil
from flask import Flask, current_app

from sharedstate.kinds.locks import named_lock_name

from .clients import ClientRegistry
from .feed import ChangeFeed
from .mirror import SharedStateMirror
from .output import OutputCapture
from .program.objects import ProgramObjects
from .program.processes import ProcessTable
from .program.watch import ProgramWatch
from .ratelimit import RateLimiter
from .snapshots import SnapshotCache
from .sockets import socketio
from .state import ManagerUnavailable, SharedState
from .supervisor import Supervisor

logger = logging.getLogger(__name__)


class Dashboard:
    """Everything one running mpscope server owns."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.started_at = time.time()
        self.ctx = multiprocessing.get_context(config["START_METHOD"])
        if config["START_METHOD"] == "forkserver":
            self.ctx.set_forkserver_preload(["workers.bootstrap", "webapp.manager"])
        # `mpscope run` has no Manager of its own: the shared objects are the program's. Nor
        # a forkserver (Labs start one if used): their start-up would take CPU from the program.
        self.state = None if config.get("PROGRAM") else SharedState(self.ctx, config["MAX_LOCKS"])
        self.output = OutputCapture(
            self._emit_output, scrollback=config["SCROLLBACK"], ended_budget=config["ENDED_OUTPUT_BYTES"]
        )
        self.manager_state = "running"
        # `mpscope run`: the watched program's processes take the place of our own workers,
        # and the objects of its own Managers take the place of our Manager's
        self.mirror = self.state.mirror if self.state is not None else SharedStateMirror()
        self.clients = ClientRegistry(socketio, SnapshotCache(self.mirror), self.snapshot_fields)
        self.program: ProgramWatch | None = None
        self.feed: ChangeFeed | None = None
        if config.get("PROGRAM"):
            self.program = ProgramWatch(
                config["PROGRAM"],
                self.output,
                self._emit_workers,
                self.clients.broadcast,
                config.get("ON_PROGRAM_END"),
                config["ENDED_CAP"],
                ProgramObjects(self.mirror, self._emit_changes, self.clients.watching),
            )
            self.supervisor: Supervisor | ProcessTable = self.program.table
        else:
            self.supervisor = Supervisor(
                self.ctx,
                self.state.for_worker,
                self._emit_workers,
                self.output,
                max_workers=config["MAX_WORKERS"],
                ended_cap=config["ENDED_CAP"],
            )
            self.feed = ChangeFeed(self.state, self._emit_changes, self.resync_all, self._manager_lost)
        self.ratelimit = RateLimiter(config["RATE_LIMIT"], burst=max(1, int(config["RATE_LIMIT"] * 2)))
        self._closed = threading.Event()
        # Whatever way the process ends, stop our processes first: otherwise the
        # interpreter's own exit handlers kill the Manager and the feed "restarts" it.
        atexit.register(self.close)

    @classmethod
    def init_app(cls, app: Flask) -> Dashboard:
        dashboard = cls(app.config)
        app.extensions["mpscope"] = dashboard
        return dashboard

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
            "workers": self.supervisor.infos(),
            "output": self.output.recent(),
            "manager": self.manager_info(),
            "limits": {
                "max_workers": self.config["MAX_WORKERS"],
                "ended_cap": self.config["ENDED_CAP"],
                "scrollback": self.config["SCROLLBACK"],
                "max_locks": self.config["MAX_LOCKS"],
                "ended_output_bytes": self.config["ENDED_OUTPUT_BYTES"],
            },
            "read_only": self.config["READ_ONLY"],
            "server_pid": os.getpid(),
            **self.program_fields(),
        }

    def program_fields(self) -> dict:
        """Under ``mpscope run``: the program and its pool tasks."""
        if self.program is None:
            return {}
        return {"program": self.program.info(), "pool_tasks": self.program.tasks.all()}

    def manager_info(self) -> dict:
        """The built-in Manager (``pid`` null under ``mpscope run``, which has none)."""
        if self.state is None:
            return {"pid": None, "restarts": 0, "state": "none"}
        return {
            "pid": self.state.manager_pid,
            "restarts": self.state.restarts,
            "state": self.manager_state,
        }

    def builtin_state(self) -> SharedState:
        """The built-in Manager's state; under ``mpscope run`` (the objects are the program's) none."""
        if self.state is None:
            raise ManagerUnavailable("mpscope run has no Manager of its own: the objects are the program's")
        return self.state

    def break_lock(self, oid: str, pid: int) -> None:
        """Release a lock-like object on behalf of its dead holder, in whichever Manager holds it."""
        if self.program is not None:
            self.program.release(oid, pid)
        else:
            self.builtin_state().break_lock(oid, pid)

    def is_alive(self, pid: int) -> bool:
        """True if ``pid`` is a running process (a lock holder that died is not)."""
        worker = self.supervisor.get(pid)
        if worker is not None:
            return worker.alive()
        return pid == os.getpid() or psutil.pid_exists(pid)

    def resync_all(self) -> None:
        self.clients.resync_all()

    # -- callbacks from the parts ----------------------------------------------
    def _emit_changes(self, payload: dict) -> None:
        self.clients.broadcast("changes", payload)

    def _emit_workers(self, workers: list[dict], removed: list[int]) -> None:
        pids = [w["pid"] for w in workers]

        def payload() -> dict:
            # Each worker's info as it is when sent, not when the change was seen: two threads
            # report workers (a spawn, the monitor), and the page keeps the last info it gets.
            # A worker no longer in the table was removed, and its removal is sent on its own.
            now = [w.info() for pid in pids if (w := self.supervisor.get(pid)) is not None]
            return {"workers": now, "removed": removed}

        self.clients.broadcast("workers", payload)
        ended = {w["pid"] for w in workers if w["ended_at"] is not None}
        if ended and self.program is None:  # a program's own Managers are as it made them
            self._forget_dead_waiters(ended)
            if self.config["RELEASE_DEAD_LOCKS"]:
                self._release_dead_holders(ended)

    def _forget_dead_waiters(self, pids: set[int]) -> None:
        # A Manager thread still blocked in acquire() for a dead worker would take the
        # lock for it when it frees up, and nobody would ever release it.
        waiting = {pid for _, _, value in self.mirror.lock_objects() for pid in value["waiters"]}
        for pid in pids & waiting:
            try:
                self.state.journal.forget_waiter(pid)
            except Exception as exc:  # the Manager is gone: its waiters went with it
                logger.debug("forget_waiter(%d): %r", pid, exc)

    def _release_dead_holders(self, pids: set[int]) -> None:
        # --release-dead-locks: the Manager releases what they held, whether or not the
        # mirror has seen the acquire yet (it may lag the death by a frame)
        for pid in pids:
            try:
                released = self.state.journal.release_held_by(pid)
            except Exception as exc:  # the Manager is gone: its locks went with it
                logger.debug("release_held_by(%d): %r", pid, exc)
                continue
            for oid in released:
                name = named_lock_name(oid)
                logger.info("released lock %r: its holder, PID %d, died (--release-dead-locks)", name, pid)

    def _emit_output(self, lines: list[dict], skipped: int) -> None:
        # skipped: lines left out of the live stream (more waited to be sent than it carries)
        self.clients.broadcast(
            "output", {"lines": lines, "skipped": skipped} if skipped else {"lines": lines}
        )

    def _manager_lost(self) -> None:
        """The Manager died: start a new one from the mirror and restart live workers."""
        if self._closed.is_set():
            return
        self.manager_state = "restarting"
        self.clients.broadcast("manager", self.manager_info())
        self.state.restart()
        restarted = self.supervisor.restart_live()
        self.manager_state = "running"
        logger.warning(
            "Manager restarted (PID %s, restart %d); %d worker(s) restarted",
            self.state.manager_pid,
            self.state.restarts,
            len(restarted),
        )
        self.clients.broadcast("manager", self.manager_info())
        self.resync_all()

    def stopping(self) -> None:
        """The server is stopping. A SIGTERM sent to the whole process group reaches the
        Manager too: its death is then no reason to start another one."""
        if self.feed is not None:
            self.feed.stopping.set()

    def close(self) -> None:
        """Stop workers, the feed and the Manager; leave no process behind."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self.program is not None:
            self.program.close()
        self.supervisor.close()
        self.clients.close()
        if self.feed is not None:
            self.feed.stop()
        if self.state is not None:
            self.state.close()
        self.output.close()
        logger.info("mpscope stopped")


def current_dashboard() -> Dashboard:
    return current_app.extensions["mpscope"]
