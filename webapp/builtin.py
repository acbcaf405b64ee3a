"""BuiltinWorkers: the built-in back end — the dashboard's own Manager and the workers it starts.

The dashboard's core (:class:`~webapp.dashboard.Dashboard`) serves any back end the app
factory gives it; this one owns the recording Manager (:class:`~webapp.state.SharedState`),
whose journal reaches the core's ManagerJournals over the agent channel as a program's
Managers' do, and the :class:`~webapp.supervisor.Supervisor` that starts tasks' workers.
It alone has a Manager to restart when it dies, to reset, and to ask to forget a dead
worker's waits.
"""

from __future__ import annotations

import logging
import threading

from sharedstate.kinds.locks import named_lock_name

from .state import SharedState
from .supervisor import Supervisor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .dashboard import Dashboard

logger = logging.getLogger(__name__)

STOP_GRACE = 0.3  # seconds before a lost Manager is restarted (see _manager_lost)


class BuiltinWorkers:
    """The Manager and the Supervisor; what the core asks of a back end."""

    mode = "builtin"

    def __init__(self, config: dict, core: Dashboard) -> None:
        self.config = config
        self.core = core
        self.manager_state = "running"
        self.closed = threading.Event()
        self.stopped = threading.Event()  # the server is stopping: a Manager death is expected
        self.restarting = threading.Lock()
        self.state = SharedState(
            core.ctx, config["MAX_LOCKS"], core.mirror, (core.hub.directory, core.hub.key)
        )
        core.journals.adopt(self.state.manager_pid, core.mirror.version)
        core.hub.on_gone(self._gone)
        self.supervisor = Supervisor(
            core.ctx, self.state.for_worker, core.processes, core.hub, max_workers=config["MAX_WORKERS"]
        )

    # -- what the core asks of a back end ---------------------------------------------
    def fields(self) -> dict:
        """Snapshot fields of this back end's own (none: the built-in page needs only the core's)."""
        return {}

    def pool_tasks(self) -> list[dict]:
        return []  # the built-in tasks start no pools

    def manager_info(self) -> dict:
        return {"pid": self.state.manager_pid, "restarts": self.state.restarts, "state": self.manager_state}

    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        return self.supervisor.spawn_workers(count, task, params)

    def reset(self) -> int:
        """Empty the shared dict and list; return the Manager's version afterwards."""
        return self.state.reset()

    def manager_contents(self) -> dict:
        return self.state.manager_contents()

    def release(self, oid: str, pid: int) -> None:
        """Release a lock-like object on behalf of its dead holder ``pid``."""
        self.state.break_lock(oid, pid)

    def processes_ended(self, pids: set[int]) -> None:
        """Workers ended: the Manager forgets their waits (and, if asked, releases their locks)."""
        waiting = {pid for _, _, value in self.state.mirror.lock_objects() for pid in value["waiters"]}
        self._forget_dead_waiters(pids & waiting)
        if self.config["RELEASE_DEAD_LOCKS"]:
            self._release_dead_holders(pids)

    def stopping(self, interrupted: bool = False) -> None:
        """The server is stopping. A SIGTERM sent to the whole process group reaches the
        Manager too: its death is then no reason to start another one."""
        self.stopped.set()

    def close(self) -> None:
        self.closed.set()
        self.supervisor.close()
        self.state.close()

    # -- the Manager's side ----------------------------------------------------------
    def _forget_dead_waiters(self, pids: set[int]) -> None:
        # A Manager thread still blocked in acquire() for a dead worker would take the
        # lock for it when it frees up, and nobody would ever release it.
        for pid in pids:
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

    def _gone(self, pid: int) -> None:
        # on the agents' listener thread, which the new Manager's hello needs: restart elsewhere
        if pid == self.state.manager_pid and not (self.closed.is_set() or self.stopped.is_set()):
            threading.Thread(
                target=self._manager_lost, args=(pid,), name="mpscope-restart", daemon=True
            ).start()

    def _manager_lost(self, pid: int) -> None:
        """The Manager died: start a new one from the mirror and restart live workers."""
        # One that died with mpscope (SIGTERM to the whole process group: `timeout`, `kill
        # -TERM -PGID`, a service manager) must not be restarted on the way out. mpscope's own
        # handler runs in its main thread, which may see the signal up to a poll interval
        # (0.1 s) after the listener saw the Manager's connection drop.
        if self.stopped.wait(STOP_GRACE):
            return  # said nothing: it was not lost, mpscope is stopping
        with self.restarting:
            if self.closed.is_set() or pid != self.state.manager_pid:
                return
            logger.warning("lost the Manager (PID %d); restarting it", pid)
            self.manager_state = "restarting"
            self.core.broadcast("manager", self.manager_info())
            self.core.journals.catch_up()  # what it sent before it died, into the mirror first
            self.core.journals.forget(pid)
            self.state.restart()
            self.core.journals.adopt(self.state.manager_pid, self.core.mirror.version)
            restarted = self.supervisor.restart_live()
            self.manager_state = "running"
        logger.warning(
            "Manager restarted (PID %s, restart %d); %d worker(s) restarted",
            self.state.manager_pid,
            self.state.restarts,
            len(restarted),
        )
        self.core.broadcast("manager", self.manager_info())
        self.core.resync_all()
