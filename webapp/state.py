"""SharedState: the running Manager, the server's mirror of it, and restarting it if it dies."""

from __future__ import annotations

import logging
import threading
from multiprocessing.context import BaseContext

from sharedstate.kinds.locks import named_lock_name

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
    """Owns the Manager process and hands out proxies to its shared objects."""

    def __init__(
        self,
        ctx: BaseContext,
        max_locks: int = MAX_LOCKS,
        mirror: SharedStateMirror | None = None,
        agents: tuple[str, str] = ("", ""),
    ) -> None:
        """``agents``: the agent directory and key the Manager sends its journal to."""
        self.ctx = ctx
        self.agents = agents
        self.max_locks = max_locks
        self.mirror = mirror if mirror is not None else SharedStateMirror()
        self.restarts = 0
        self.lock = threading.RLock()
        self.manager: StateManager | None = None
        self._manager_pid: int | None = None
        self._start()

    def _start(self, version: int = 0, items: list | None = None, entries: dict | None = None) -> None:
        self.manager = start_manager(self.ctx, self.agents, version, items, entries)
        self._manager_pid = self.manager._process.pid
        self.dict = self.manager.named_dict("d")
        self.list = self.manager.named_list("l")
        self.journal = self.manager.journal()
        self.proxies: dict[tuple, object] = {}
        self.mirror.load(*self.journal.snapshot())
        logger.info("Manager started (PID %d)", self.manager_pid)

    @property
    def manager_pid(self) -> int | None:
        """The running Manager's PID (the old one's until a replacement is up)."""
        return self._manager_pid

    def for_worker(self, uses: dict[str, tuple | None], in_use: set[str] = frozenset()) -> tuple:
        """Return ``(d, l, {kwarg: proxy or None})`` to hand to a new worker.

        ``uses`` maps each keyword argument of a task to the shared object it declared,
        ``(kind, id, args)``: the object is made with ``args`` the first time it is used.
        A named lock is kept by the Manager, the mirror and every snapshot: past
        ``max_locks`` of them, free ones that no live worker uses (``in_use``) are
        forgotten, oldest first, to make room; if none can be, :class:`TooManyLocks`.
        """
        with self.lock:
            wanted = {use[:2] for use in uses.values() if use is not None}
            new_locks = {
                oid
                for kind, oid in wanted
                if named_lock_name(oid) is not None and (kind, oid) not in self.proxies
            }
            self._make_room(len(new_locks), in_use | {oid for _, oid in wanted})
            proxies = {}
            for kwarg, use in uses.items():
                if use is not None and use[:2] not in self.proxies:
                    kind, oid, args = use
                    self.proxies[kind, oid] = getattr(self.manager, f"named_{kind}")(oid, *args)
                proxies[kwarg] = None if use is None else self.proxies[use[:2]]
            return self.dict, self.list, proxies

    def _make_room(self, count: int, keep: set) -> None:
        named = [key for key in self.proxies if named_lock_name(key[1]) is not None]
        excess = len(named) + count - self.max_locks
        for key in named:
            if excess <= 0:
                return
            if key[1] not in keep and self._call("forget_lock", key[1]):  # refused if held or awaited
                del self.proxies[key]
                excess -= 1
        if excess > 0:
            raise TooManyLocks(
                f"all {self.max_locks} shared locks are held, awaited or used by running workers"
            )

    def reset(self) -> int:
        """Empty the shared dict and list; return the Manager's version afterwards."""
        return self._call("reset_state")

    def break_lock(self, oid: str, pid: int | None = None) -> bool:
        """Release a lock-like object on behalf of a holder that died, so its waiters can go on."""
        return self._call("break_lock", oid, pid)

    def manager_contents(self) -> dict:
        """Read the Manager's real contents, encoded as the mirror's snapshot (for checks)."""
        version, objects = self._call("snapshot")
        contents = SharedStateMirror()
        contents.load(version, objects)
        return contents.snapshot()

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
