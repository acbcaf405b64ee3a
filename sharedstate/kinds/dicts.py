"""The dict kind: a ``dict`` whose every change is journalled with the key as the dict stores it."""

from __future__ import annotations

import json
import time
from operator import itemgetter

from ..encoding import encode
from ..journal import PLAIN, caller
from .base import SEPARATORS, Replica, canon

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TEXT, _WRITER_TEXT = itemgetter(3), itemgetter(4)


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


class DictReplica(Replica):
    """Encoded side: entries keyed by their encoded key, with the PID that wrote each last."""

    OPS = {"set": ("key", "value"), "del": ("key",), "clear": ()}

    def __init__(self, value: list, writers: list | None = None) -> None:
        writers = writers or [None] * len(value)
        # canon(key) -> [key, value, writer, JSON of [key, value], JSON of writer]; the texts
        # are filled in when a snapshot needs them (``stale`` lists the entries to redo)
        self.entries = {canon(k): [k, v, w, None, None] for (k, v), w in zip(value, writers, strict=True)}
        self.stale: set[str] = set(self.entries)

    @classmethod
    def from_raw(cls, raw: dict) -> DictReplica:
        return cls([[encode(k), encode(v)] for k, v in raw.items()])

    def apply(self, op: dict) -> None:
        name = op["op"]
        if name == "set":
            encoded = op["key"]
            key = "s" + encoded if type(encoded) is str else canon(encoded)  # canon(), inlined: hot
            entry = self.entries.get(key)
            if entry is None:
                self.entries[key] = [encoded, op["value"], op["pid"], None, None]
            else:
                entry[1], entry[2] = op["value"], op["pid"]
            self.stale.add(key)
        elif name == "del":
            self.entries.pop(canon(op["key"]), None)
        elif name == "clear":
            self.entries.clear()
            self.stale.clear()
        else:
            raise ValueError(f"unknown dict op {name!r}")

    def value(self) -> list:
        return [[k, v] for k, v, _, _, _ in self.entries.values()]

    def writers(self) -> list:
        return [w for _, _, w, _, _ in self.entries.values()]

    def _refresh(self) -> None:
        # Only entries changed since the last snapshot are serialised again.
        for key in self.stale:
            entry = self.entries.get(key)
            if entry is not None:
                entry[3] = json.dumps(entry[:2], separators=SEPARATORS)
                entry[4] = "null" if entry[2] is None else str(entry[2])
        self.stale.clear()

    def value_json(self) -> str:
        self._refresh()
        return "[" + ",".join(map(_TEXT, self.entries.values())) + "]"

    def writers_json(self) -> str:
        self._refresh()
        return "[" + ",".join(map(_WRITER_TEXT, self.entries.values())) + "]"

    def size(self) -> int:
        return len(self.entries)
