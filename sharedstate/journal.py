"""The Manager-side ChangeJournal: every shared object, and one bounded log of their changes.

Everything in this module runs inside the Manager process. Each shared object (of any
kind in :mod:`sharedstate.kinds`) applies a call and appends one entry to the journal under
the journal's one lock, so the journal order is the order in which the Manager applied
the changes. The server reads the journal with one blocking call (:meth:`ChangeJournal.read`)
instead of copying and diffing the state.

A journal entry is a plain tuple ``(seq, object_id, op, args, pid, t)``: ``seq`` is the
state version after the change, ``args`` each argument as it is if it is a plain scalar
(an int, float, str, bool or None: always loadable) or else pickled on its own
(:mod:`sharedstate.carry`: ``bytes``, which :func:`carry.load_arg` reads), ``pid`` the
writer's PID (from the Manager connection's peer credentials, see :mod:`webapp.manager`),
``t`` the ``time.time()`` it was applied.

Standard library only: this module also runs inside a watched program's Manager.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time

from . import carry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Caller(threading.local):
    """Who the Manager thread that records is serving: set per connection thread by the
    Manager's Server (webapp.manager, mpscope_agent.manager_hooks); 0 in any other thread."""

    pid: int | str = 0  # an attribute read (not getattr with a default): it is on every op's path


caller = Caller()

JOURNAL_CAPACITY = 50_000
PLAIN = frozenset((int, str, float, bool, type(None)))  # carried as they are (not bytes: see load_arg)


def caller_pid() -> int:
    """Return the PID of the process whose request this Manager thread is serving."""
    return caller.pid


class ChangeJournal:
    """A bounded, versioned log of shared-object changes with a blocking reader."""

    def __init__(self, capacity: int = JOURNAL_CAPACITY, version: int = 0) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.entries: collections.deque = collections.deque(maxlen=capacity)
        self.waiting = 0  # readers blocked in read(): only then is a change worth a notify
        self.version = version
        self.objects: dict[str, Any] = {}  # id -> observed object, in order of creation
        self._numbers = itertools.count(1)
        self._token_ids: dict[str, str] = {}  # kept while self.objects keeps the object alive

    # -- writing -------------------------------------------------------------------
    def record(self, oid: str, op: str, args: tuple = (), _plain=PLAIN, _now=time.time) -> None:
        """Append one change; the caller holds ``self.lock`` and has applied it."""
        # Every op of every process goes through here, in the Manager's one GIL, so it stays
        # cheap: plain scalars as they are, and a notify only when a reader is waiting.
        # (Measured in a saturated Manager, each 0.1 us here shows in the program's time.)
        # ObservedDict.__setitem__ and ObservedList.append do the same inline: see there.
        self.version += 1
        for arg in args:
            if type(arg) not in _plain:
                args = self.carried(args)
                break
        self.entries.append((self.version, oid, op, args, caller.pid, _now()))
        if self.waiting:
            self.changed.notify_all()

    def carried(self, args: tuple, _plain=PLAIN) -> tuple:
        """``args`` as an entry carries them: plain scalars as they are, anything else pickled."""
        return tuple(a if type(a) in _plain else carry.dumps(a, self._name_of) for a in args)

    def add(self, kind: str, obj: Any, oid: str | None = None, label: str | None = None) -> Any:
        """Register a new shared object and journal its creation with its first value."""
        with self.lock:
            if oid is None:
                oid = f"{kind}-{next(self._numbers)}"
                while oid in self.objects:
                    oid = f"{kind}-{next(self._numbers)}"
            obj._journal, obj._oid, obj._kind = self, oid, kind
            self._token_ids[f"{id(obj):x}"] = oid  # the Manager's token id for it (Server.create)
            obj._label = label or f"{kind} {oid}"
            self.objects[oid] = obj
            self.record(oid, "create", (kind, obj._label, obj._raw()))
        return obj

    def _name_of(self, proxy: Any) -> str:
        """Name the object a proxy stored inside a value points to (for SharedRef)."""
        # not server.id_to_obj: the Manager forgets an object there once no proxy holds it
        return self._token_ids.get(proxy._token.id, str(proxy._token.id))

    # -- reading -------------------------------------------------------------------
    def read(self, after: int, timeout: float = 1.0, limit: int = 5000) -> tuple[str, Any]:
        """Wait up to ``timeout`` for entries newer than ``after``.

        Returns ``("ok", entries)`` (possibly empty on timeout) or ``("overflow", version)``
        when entries the reader has not seen were already dropped: it must resynchronise.
        """
        with self.lock:
            if self.version <= after and timeout:
                self.waiting += 1
                try:
                    self.changed.wait(timeout)
                finally:
                    self.waiting -= 1
            if self.version <= after:
                return "ok", []
            oldest = self.entries[0][0] if self.entries else self.version + 1
            if after + 1 < oldest or after > self.version:
                return "overflow", self.version
            skip = after + 1 - oldest
            end = min(len(self.entries), skip + limit)
            if end < len(self.entries):
                return "ok", [self.entries[i] for i in range(skip, end)]
            # The newest entries, as the sender nearly always asks: one pass from the deque's
            # newer end. Indexing walks its blocks again for each entry (5,000 at a time:
            # 0.3 ms under the lock that every writer takes, now 0.03 ms).
            batch = list(itertools.islice(reversed(self.entries), end - skip))
            batch.reverse()
            return "ok", batch

    def snapshot(self) -> tuple[int, list]:
        """Return ``(version, [(id, kind, label, pickled value), ...])`` as one consistent copy."""
        with self.lock:
            objects = [
                (oid, obj._kind, obj._label, carry.dumps(obj._raw(), self._name_of))
                for oid, obj in self.objects.items()
            ]
            return self.version, objects

    # -- named objects (the dashboard's own) ------------------------------------
    def named(self, kind: str, name: str, make: Any, args: tuple = ()) -> Any:
        """Return the shared object called ``name``, creating it with ``make(*args)`` on first use."""
        with self.lock:
            obj = self.objects.get(name)
            if obj is None:
                label = name if ":" not in name else f"{kind} {name.split(':', 1)[1]!r}"
                obj = self.add(kind, make(self, *args), name, label)
            elif obj._kind != kind:
                raise TypeError(f"shared object {name!r} is a {obj._kind}, not a {kind}")
            return obj

    def reset_state(self, names: tuple = ("d", "l")) -> int:
        """Empty the named dict and list; return the new version."""
        with self.lock:
            for name in names:
                if name in self.objects:
                    self.objects[name].clear()
            return self.version

    def forget_waiter(self, pid: int) -> None:
        """Stop waiting on behalf of ``pid``, which died: it must never be handed a lock."""
        with self.lock:
            for obj in self.objects.values():
                cancel = getattr(obj, "_cancel", None)
                if cancel is not None:
                    cancel(pid)

    def forget_lock(self, oid: str) -> bool:
        """Drop lock ``oid`` if nobody holds or waits for it (the server bounds their number)."""
        with self.lock:
            obj = self.objects.get(oid)
            if obj is None or getattr(obj, "_holders", True) or obj._waiters:
                return False
            del self.objects[oid]
            self.record(oid, "forget")
            return True

    def release_held_by(self, pid: int) -> list[str]:
        """Release everything lock-like that ``pid`` holds (it died); return their ids."""
        with self.lock:
            held = [
                oid
                for oid, obj in self.objects.items()
                if any(h[0] == pid for h in getattr(obj, "_holders", ()))
            ]
            for oid in held:
                self.objects[oid]._force_release(pid)
            return held

    def break_lock(self, oid: str, pid: int | None = None) -> bool:
        """Release ``oid`` on behalf of a holder that can no longer do it (it died)."""
        with self.lock:
            obj = self.objects.get(oid)
            force = getattr(obj, "_force_release", None)
            return force(pid) if force is not None else False
