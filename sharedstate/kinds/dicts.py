"""The dict kind: a ``dict`` whose every change is journalled with the key as the dict stores it."""

from __future__ import annotations

import time

from ..journal import PLAIN, caller

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedDict(dict):
    """Manager side. Behaves as a plain dict; journals ``set``, ``del`` and ``clear``.

    ``_keys`` maps each key to itself, so the key *as stored* is one lookup away: after
    ``d[3] = "a"; d[3.0] = "b"`` the dict keeps the key ``3``, and so must every replay.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys = {k: k for k in self}

    def _raw(self) -> dict:
        return dict(self)

    def __setitem__(
        self,
        key: Any,
        value: Any,
        /,
        *,  # the constants below as locals, never filled by a caller's extra arguments
        _set=dict.__setitem__,
        _plain=PLAIN,
        _caller=caller,
        _now=time.time,
        _type=type,
    ) -> None:
        # Every write of every process comes through here, in the Manager's one GIL, and runs
        # with cold caches (the Manager waits on a socket between ops): journal.record()
        # inlined, which halves what recording adds to a saturated Manager's time per op.
        journal = self._journal
        lock = journal.lock
        lock.acquire()
        try:
            _set(self, key, value)
            stored = self._keys.setdefault(key, key)
            if _type(stored) in _plain and _type(value) in _plain:
                args = (stored, value)
            else:
                args = journal.carried((stored, value))
            journal.version = version = journal.version + 1
            journal.entries.append((version, self._oid, "set", args, _caller.pid, _now()))
            if journal.waiting:
                journal.changed.notify_all()
        finally:
            lock.release()

    def __delitem__(self, key: Any) -> None:
        with self._journal.lock:
            super().__delitem__(key)
            self._journal.record(self._oid, "del", (self._keys.pop(key),))

    def clear(self) -> None:
        with self._journal.lock:
            super().clear()
            self._keys.clear()
            self._journal.record(self._oid, "clear")

    def pop(self, key: Any, *default: Any) -> Any:
        with self._journal.lock:
            if key not in self:
                return super().pop(key, *default)
            value = super().pop(key)
            self._journal.record(self._oid, "del", (self._keys.pop(key),))
            return value

    def popitem(self) -> tuple:
        with self._journal.lock:
            key, value = super().popitem()
            del self._keys[key]
            self._journal.record(self._oid, "del", (key,))
            return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        with self._journal.lock:
            if key in self:
                return dict.__getitem__(self, key)
            self[key] = default
            return default

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Apply pairs one by one as ``dict.update`` does: a bad pair keeps the ones before it."""
        with self._journal.lock:
            if hasattr(other, "keys"):
                mapping = other
                other = ((k, mapping[k]) for k in mapping.keys())  # noqa: SIM118 -- dict.update calls keys()
            self._update(other)
            self._update(kwargs.items())

    def _update(self, pairs: Any) -> None:
        taken: list = []
        source_failed = False

        def tap():
            nonlocal source_failed
            iterator = iter(pairs)
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                except BaseException:
                    source_failed = True
                    raise
                taken.append(item)
                yield item

        try:
            dict.update(self, tap())
        except BaseException:
            if not source_failed:
                taken.pop()  # dict.update refused this one: it was not applied
            raise
        finally:
            for key, value in taken:
                self._journal.record(self._oid, "set", (self._keys.setdefault(key, key), value))

    def __ior__(self, other: Any) -> ObservedDict:
        self.update(other)
        return self

    def __reduce__(self):
        # Copies leaving the Manager (d.copy(), snapshots) are plain dicts.
        return dict, (dict(self),)


from .dict_replica import DictReplica  # noqa: E402 -- the server side, in a module of its own

__all__ = ["DictReplica", "ObservedDict"]
