"""SharedState: the running Manager, the server's mirror of it, and restarting it if it dies."""

from __future__ import annotations

import logging
import threading
from multiprocessing.context import BaseContext

from .manager import StateManager, start_manager
from .mirror import SharedStateMirror

logger = logging.getLogger(__name__)

MANAGER_LOST = (EOFError, ConnectionError, OSError)
MAX_LOCKS = 100


class ManagerUnavailable(RuntimeError):
    """The Manager process died and is being replaced."""


class TooManyLocks(RuntimeError):
    """Every one of the ``max_locks`` shared locks is held, awaited or used by a live worker."""


class SharedState:
    """Owns the Manager process and hands out proxies to its shared dict, list and locks."""

    def __init__(self, ctx: BaseContext, max_locks: int = MAX_LOCKS) -> None:
        self.ctx = ctx
        self.max_locks = max_locks
        self.mirror = SharedStateMirror()
        self.restarts = 0
        self.lock = threading.RLock()
        self.manager: StateManager | None = None
        self._manager_pid: int | None = None
        self._start()

    def _start(self, version: int = 0, items: list | None = None, entries: dict | None = None) -> None:
        self.manager = start_manager(self.ctx, version, items, entries)
        self._manager_pid = self.manager._process.pid
        self.dict = self.manager.shared_dict()
        self.list = self.manager.shared_list()
        self.journal = self.manager.journal()
        self.locks: dict[str, object] = {}
        self.mirror.load(*self.journal.snapshot())
        logger.info("Manager started (PID %d)", self.manager_pid)

    @property
    def manager_pid(self) -> int | None:
        """The running Manager's PID (the old one's until a replacement is up)."""
        return self._manager_pid

    def for_worker(self, lock_names: dict[str, str | None], in_use: set[str] = frozenset()) -> tuple:
        """Return ``(d, l, {kwarg: lock proxy or None})`` to hand to a new worker.

        A lock name is kept by the Manager, the mirror and every snapshot: past
        ``max_locks`` names, free ones that no live worker uses (``in_use``) are forgotten,
        oldest first, to make room; if none can be, :class:`TooManyLocks` is raised.
        """
        with self.lock:
            new = {name for name in lock_names.values() if name is not None and name not in self.locks}
            self._make_room(len(new), in_use | set(lock_names.values()))
            locks = {}
            for kwarg, name in lock_names.items():
                if name is not None and name not in self.locks:
                    self.locks[name] = self.manager.named_lock(name)
                locks[kwarg] = None if name is None else self.locks[name]
            return self.dict, self.list, locks

    def _make_room(self, count: int, keep: set) -> None:
        excess = len(self.locks) + count - self.max_locks
        for name in list(self.locks):
            if excess <= 0:
                return
            if name not in keep and self._call("forget_lock", name):  # refused if held or awaited
                del self.locks[name]
                excess -= 1
        if excess > 0:
            raise TooManyLocks(
                f"all {self.max_locks} shared locks are held, awaited or used by running workers"
            )

    def reset(self) -> int:
        """Empty the shared dict and list; return the Manager's version afterwards."""
        return self._call("reset_state")

    def break_lock(self, name: str) -> bool:
        """Release a lock whose holder died, so its waiters can go on."""
        return self._call("break_lock", name)

    def manager_contents(self) -> tuple[int, list, dict, dict]:
        """Read the Manager's real contents (for checks; the page uses the mirror)."""
        return self._call("snapshot")

    def _call(self, method: str, *args):
        # Holding the lock means a restart in progress finishes first and we use the new
        # Manager; a Manager that died a moment ago (not yet noticed) is reported as such.
        with self.lock:
            try:
                return getattr(self.journal, method)(*args)
            except MANAGER_LOST as exc:
                raise ManagerUnavailable("the Manager process is restarting; try again in a moment") from exc

    def restart(self) -> None:
        """Start a new Manager holding the last state the mirror saw (the old one died)."""
        with self.lock:
            version, items, entries = self.mirror.raw()
            self._shutdown()
            self._start(version, items, entries)
            self.restarts += 1

    def close(self) -> None:
        with self.lock:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.manager is not None:
            try:
                self.manager.shutdown()
            except Exception as exc:  # already dead: nothing to shut down
                logger.debug("Manager shutdown: %r", exc)
            self.manager = None
