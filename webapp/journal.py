"""Manager-side shared objects that record every mutation in one bounded ChangeJournal.

Everything in this module runs inside the Manager process. The shared dict and list are
ordinary ``dict``/``list`` subclasses whose mutating methods apply the change and append
one entry to the journal under the same lock, so the journal order is the order in which
the Manager applied the changes. The server reads the journal with one blocking call
(:meth:`ChangeJournal.read`) instead of copying and diffing the state.

A journal entry is a plain tuple ``(seq, target, op, args, pid, t)``: ``seq`` is the state
version after the change, ``pid`` the writer's PID (from the Manager connection's peer
credentials, see :mod:`webapp.manager`), ``t`` the ``time.time()`` at which it was applied.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

# Set per Manager connection thread by the Manager's Server (webapp.manager).
caller = threading.local()

JOURNAL_CAPACITY = 50_000


def caller_pid() -> int:
    """Return the PID of the process whose request this Manager thread is serving."""
    return getattr(caller, "pid", 0)


class ChangeJournal:
    """A bounded, versioned log of shared-state changes with a blocking reader."""

    def __init__(self, capacity: int = JOURNAL_CAPACITY, version: int = 0) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.entries: collections.deque = collections.deque(maxlen=capacity)
        self.version = version
        self.dict: ObservedDict | None = None
        self.list: ObservedList | None = None
        self.locks: dict[str, RecordedLock] = {}

    def record(self, target: str, op: str, args: tuple = ()) -> None:
        """Append one change; the caller holds ``self.lock`` and has applied it."""
        self.version += 1
        self.entries.append((self.version, target, op, args, caller_pid(), time.time()))
        self.changed.notify_all()

    def read(self, after: int, timeout: float = 1.0, limit: int = 5000) -> tuple[str, Any]:
        """Wait up to ``timeout`` for entries newer than ``after``.

        Returns ``("ok", entries)`` (possibly empty on timeout) or ``("overflow", version)``
        when entries the reader has not seen were already dropped: it must resynchronise.
        """
        with self.lock:
            if self.version <= after:
                self.changed.wait(timeout)
            if self.version <= after:
                return "ok", []
            oldest = self.entries[0][0] if self.entries else self.version + 1
            if after + 1 < oldest or after > self.version:
                return "overflow", self.version
            skip = after + 1 - oldest
            end = min(len(self.entries), skip + limit)
            return "ok", [self.entries[i] for i in range(skip, end)]

    def snapshot(self) -> tuple[int, list, dict, dict]:
        """Return ``(version, list, dict, locks)`` as one consistent copy."""
        with self.lock:
            locks = {name: lock.describe() for name, lock in self.locks.items()}
            return self.version, list(self.list), dict(self.dict), locks

    def reset_state(self) -> int:
        """Empty the shared dict and list; return the new version."""
        with self.lock:
            self.dict.clear()
            self.list.clear()
            return self.version

    def named_lock(self, name: str) -> RecordedLock:
        """Return the shared lock called ``name``, creating it on first use."""
        with self.lock:
            lock = self.locks.get(name)
            if lock is None:
                lock = self.locks[name] = RecordedLock(self, name)
            return lock

    def lock_names(self) -> list[str]:
        with self.lock:
            return list(self.locks)

    def forget_waiter(self, pid: int) -> None:
        """Stop waiting on behalf of ``pid``, which died: it must never be handed a lock."""
        with self.lock:
            for lock in self.locks.values():
                lock.cancel(pid)

    def forget_lock(self, name: str) -> bool:
        """Drop lock ``name`` if nobody holds or waits for it (the server bounds their number)."""
        with self.lock:
            lock = self.locks.get(name)
            if lock is None or lock.holder is not None or lock.waiters:
                return False
            del self.locks[name]
            self.record("lock", "forget", (name,))
            return True

    def release_held_by(self, pid: int) -> list[str]:
        """Release every lock ``pid`` holds (it died); return their names."""
        with self.lock:
            held = [lock for lock in self.locks.values() if lock.holder == pid]
            for lock in held:
                lock.force_release()
            return [lock.name for lock in held]

    def break_lock(self, name: str) -> bool:
        """Release ``name`` on behalf of a holder that can no longer do it (it died)."""
        lock = self.locks.get(name)
        return lock.force_release() if lock is not None else False


class ObservedDict(dict):
    """The shared dict: a ``dict`` whose every mutation is journalled."""

    def __init__(self, journal: ChangeJournal, *args: Any) -> None:
        super().__init__(*args)
        self._journal = journal

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._journal.lock:
            super().__setitem__(key, value)
            self._journal.record("dict", "set", (key, value))

    def __delitem__(self, key: Any) -> None:
        with self._journal.lock:
            super().__delitem__(key)
            self._journal.record("dict", "del", (key,))

    def clear(self) -> None:
        with self._journal.lock:
            super().clear()
            self._journal.record("dict", "clear")

    def pop(self, key: Any, *default: Any) -> Any:
        with self._journal.lock:
            if key not in self:
                return super().pop(key, *default)
            value = super().pop(key)
            self._journal.record("dict", "del", (key,))
            return value

    def popitem(self) -> tuple:
        with self._journal.lock:
            key, value = super().popitem()
            self._journal.record("dict", "del", (key,))
            return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        with self._journal.lock:
            if key in self:
                return self[key]
            self[key] = default
            return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        with self._journal.lock:
            for key, value in dict(*args, **kwargs).items():
                self[key] = value

    def __reduce__(self):
        # Copies leaving the Manager (d.copy(), snapshots) are plain dicts.
        return dict, (dict(self),)


class ObservedList(list):
    """The shared list: a ``list`` whose every mutation is journalled.

    Index arguments are recorded already resolved (non-negative), so a reader can replay
    the change without knowing the list's length. Changes that rewrite the whole list
    (sort, reverse, slices, ``*=``) are recorded as ``replace`` with the new contents.
    """

    def __init__(self, journal: ChangeJournal, *args: Any) -> None:
        super().__init__(*args)
        self._journal = journal

    def _index(self, index: int) -> int:
        return index + len(self) if index < 0 else index

    def _replace(self) -> None:
        self._journal.record("list", "replace", (list(self),))

    def append(self, value: Any) -> None:
        with self._journal.lock:
            super().append(value)
            self._journal.record("list", "append", (value,))

    def extend(self, values: Any) -> None:
        with self._journal.lock:
            values = list(values)
            super().extend(values)
            self._journal.record("list", "extend", (values,))

    def __iadd__(self, values: Any) -> ObservedList:
        self.extend(values)
        return self

    def insert(self, index: int, value: Any) -> None:
        with self._journal.lock:
            index = max(0, min(len(self), self._index(index)))
            super().insert(index, value)
            self._journal.record("list", "insert", (index, value))

    def __setitem__(self, index: Any, value: Any) -> None:
        with self._journal.lock:
            super().__setitem__(index, value)
            if isinstance(index, slice):
                self._replace()
            else:
                self._journal.record("list", "set", (self._index(index), value))

    def __delitem__(self, index: Any) -> None:
        with self._journal.lock:
            if isinstance(index, slice):
                super().__delitem__(index)
                self._replace()
            else:
                resolved = self._index(index)
                super().__delitem__(index)
                self._journal.record("list", "del", (resolved,))

    def pop(self, index: int = -1) -> Any:
        with self._journal.lock:
            resolved = self._index(index)
            value = super().pop(index)
            self._journal.record("list", "del", (resolved,))
            return value

    def remove(self, value: Any) -> None:
        with self._journal.lock:
            index = self.index(value)
            super().__delitem__(index)
            self._journal.record("list", "del", (index,))

    def clear(self) -> None:
        with self._journal.lock:
            super().clear()
            self._journal.record("list", "clear")

    def sort(self, *args: Any, **kwargs: Any) -> None:
        with self._journal.lock:
            try:
                super().sort(*args, **kwargs)
            finally:  # a sort that raises half-way may still have reordered the list
                self._replace()

    def reverse(self) -> None:
        with self._journal.lock:
            super().reverse()
            self._replace()

    def __imul__(self, n: int) -> ObservedList:
        with self._journal.lock:
            super().__imul__(n)
            self._replace()
            return self

    def __reduce__(self):
        return list, (list(self),)


class RecordedLock:
    """A named, non-reentrant shared lock that journals who holds it and who waits.

    Built on a Condition rather than ``threading.Lock`` so that the Manager can release
    it on behalf of a holder that died (``force_release``), which a plain lock forbids.
    """

    def __init__(self, journal: ChangeJournal, name: str) -> None:
        self._journal = journal
        self.name = name
        self.holder: int | None = None
        self.held_since: float | None = None
        self.waiters: list[int] = []
        self._cancelled: set[int] = set()
        self._free = threading.Condition(journal.lock)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "holder_pid": self.holder,
            "held_since": self.held_since,
            "waiters": list(self.waiters),
        }

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        pid = caller_pid()
        with self._journal.lock:
            if self.holder is not None:
                if not blocking:
                    return False
                self.waiters.append(pid)
                self._journal.record("lock", "wait", (self.name,))
                deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
                while self.holder is not None or pid in self._cancelled:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if pid in self._cancelled or (remaining is not None and remaining <= 0):
                        self._cancelled.discard(pid)
                        self.waiters.remove(pid)
                        self._journal.record("lock", "gave_up", (self.name,))
                        return False
                    self._free.wait(remaining)
                self.waiters.remove(pid)
            self.holder = pid
            self.held_since = time.time()
            self._journal.record("lock", "acquire", (self.name,))
            return True

    def release(self) -> None:
        with self._journal.lock:
            if self.holder is None:
                raise RuntimeError(f"release of unlocked lock {self.name!r}")
            self._release("release")

    def cancel(self, pid: int) -> None:
        if pid in self.waiters:
            self._cancelled.add(pid)
            self._free.notify_all()

    def force_release(self) -> bool:
        with self._journal.lock:
            if self.holder is None:
                return False
            self._release("break")
            return True

    def _release(self, op: str) -> None:
        self.holder = None
        self.held_since = None
        self._journal.record("lock", op, (self.name,))
        self._free.notify_all()
