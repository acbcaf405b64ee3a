"""The Lock, RLock, Semaphore and BoundedSemaphore kinds: holders, waiters, dead holders.

One class serves all four, since they differ only in the count they start from, whether
the owner may re-enter (RLock) and whether a release past the start is an error
(BoundedSemaphore). It is built on a Condition of the journal's lock rather than on a
``threading`` primitive so that the Manager can release it on behalf of a holder that
died (``_force_release``), which a plain lock forbids.
"""

from __future__ import annotations

import threading
import time

from ..journal import caller_pid
from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The dashboard's named locks (``hold_lock``'s "demo") are Lock objects with these ids.
NAMED_LOCK_PREFIX = "lock:"


def named_lock_id(name: str) -> str:
    return NAMED_LOCK_PREFIX + name


def named_lock_name(oid: str) -> str | None:
    """The name of a named lock's id, or None for any other object."""
    return oid[len(NAMED_LOCK_PREFIX) :] if oid.startswith(NAMED_LOCK_PREFIX) else None


class RecordedLock:
    """Manager side. Raises what the ``threading`` primitive of its kind raises."""

    def __init__(self, journal: Any, kind: str = "Lock", value: int = 1, owner: Any = None) -> None:
        if kind in ("Lock", "RLock"):
            value = 1
        elif value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._journal = journal
        self._lock_kind = kind
        self._initial = self._value = value
        self._thread: int | None = None  # RLock: the Manager thread serving the owner's connection
        self._depth = 0
        self._holders: list[list] = []  # [pid, since, depth]
        self._waiters: list[int] = []
        self._cancelled: set[int] = set()
        self._free = threading.Condition(journal.lock)
        self._records_for = owner or self  # a Condition's lock journals as the Condition

    def _record(self, op: str, *args: Any) -> None:
        self._journal.record(self._records_for._oid, op, args)

    def __repr__(self) -> str:
        """What the plain primitive of this kind shows (``print(proxy)`` shows the referent)."""
        state = "locked" if self._value <= 0 else "unlocked"
        if self._lock_kind == "Lock":
            return f"<{state} _thread.lock object at {id(self):#x}>"
        if self._lock_kind == "RLock":
            owner: Any = self._thread or 0
            thread = threading._active.get(owner)
            owner = thread.name if thread is not None else owner
            return f"<{state} _thread.RLock object owner={owner!r} count={self._depth} at {id(self):#x}>"
        if self._lock_kind == "Semaphore":
            return f"<threading.Semaphore at {id(self):#x}: value={self._value}>"
        return f"<threading.BoundedSemaphore at {id(self):#x}: value={self._value}/{self._initial}>"

    def _raw(self) -> dict:
        return {
            "initial": self._initial,
            "available": self._value,
            "holders": [{"pid": p, "since": s, "depth": d} for p, s, d in self._holders],
            "waiters": list(self._waiters),
        }

    def _check(self, blocking: bool, timeout: Any) -> None:
        """Raise for bad arguments exactly as the threading primitive does (on a scratch one)."""
        if self._lock_kind in ("Lock", "RLock"):
            threading.Lock().acquire(blocking, -1 if timeout is None else timeout)
        else:
            threading.Semaphore(1).acquire(blocking, timeout)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        self._check(blocking, timeout)
        pid, me = caller_pid(), threading.get_ident()
        with self._journal.lock:
            if self._lock_kind == "RLock" and self._thread == me:
                self._depth += 1
                self._holders[0][2] = self._depth
                self._record("acquire", self._depth)
                return True
            if self._value <= 0:
                if not blocking:
                    return False
                if not self._wait_free(pid, timeout):
                    return False
            self._take(pid, me)
            self._record("acquire", 1)
            return True

    def _wait_free(self, pid: int, timeout: float | None) -> bool:
        self._waiters.append(pid)
        self._record("wait")
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while self._value <= 0 or pid in self._cancelled:
            remaining = None if deadline is None else deadline - time.monotonic()
            if pid in self._cancelled or (remaining is not None and remaining <= 0):
                self._cancelled.discard(pid)
                self._waiters.remove(pid)
                self._record("gave_up")
                return False
            self._free.wait(remaining)
        self._waiters.remove(pid)
        return True

    def _take(self, pid: int, thread: int, depth: int = 1) -> None:
        self._value -= 1
        if self._lock_kind == "RLock":
            self._thread, self._depth = thread, depth
        self._holders.append([pid, time.time(), depth])

    def release(self) -> None:
        with self._journal.lock:
            if self._lock_kind == "RLock":
                if self._thread != threading.get_ident():
                    raise RuntimeError("cannot release un-acquired lock")
                if self._depth > 1:
                    self._depth -= 1
                    self._holders[0][2] = self._depth
                    self._record("release", self._depth)
                    return
            elif self._lock_kind == "Lock" and self._value > 0:
                raise RuntimeError("release unlocked lock")
            elif self._lock_kind == "BoundedSemaphore" and self._value >= self._initial:
                raise ValueError("Semaphore released too many times")
            self._give(caller_pid())
            self._record("release", 0)

    def _give(self, pid: int) -> None:
        """Drop ``pid``'s hold (or the oldest, when a process releases what another took)."""
        for i, holder in enumerate(self._holders):
            if holder[0] == pid:
                del self._holders[i]
                break
        else:
            if self._holders:
                del self._holders[0]
        self._thread, self._depth = None, 0
        self._value += 1
        self._free.notify()

    # A Condition over this lock uses these three to wait: release fully, then take back.
    def _is_owned(self) -> bool:
        if self._lock_kind == "RLock":
            return self._thread == threading.get_ident()
        return self._value <= 0

    def _release_save(self) -> Any:
        with self._journal.lock:
            depth, pid = self._depth, caller_pid()
            self._give(pid)
            return depth, pid

    def _acquire_restore(self, saved: Any) -> None:
        depth, pid = saved
        with self._journal.lock:
            while self._value <= 0:
                self._free.wait()
            self._take(pid, threading.get_ident(), depth)

    # The dashboard's recovery from dead processes.
    def _cancel(self, pid: int) -> None:
        if pid in self._waiters:
            self._cancelled.add(pid)
            self._free.notify_all()

    def _force_release(self, pid: int | None = None) -> bool:
        with self._journal.lock:
            holders = [h[0] for h in self._holders]
            if not holders or (pid is not None and pid not in holders):
                return False
            holder = holders[0] if pid is None else pid
            self._give(holder)
            self._record("break", holder)
            return True


class LockReplica(Replica):
    """Encoded side: how many are free, who holds (with RLock depth) and who waits."""

    OPS = {"acquire": ("depth",), "release": ("depth",), "wait": (), "gave_up": (), "break": ("holder",)}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.initial, self.available = value["initial"], value["available"]
        self.holders = [dict(h) for h in value["holders"]]
        self.waiters = list(value["waiters"])

    @classmethod
    def from_raw(cls, raw: dict) -> LockReplica:
        return cls(raw)

    def _holder(self, pid: int) -> dict | None:
        return next((h for h in self.holders if h["pid"] == pid), None)

    def _drop(self, pid: int) -> None:
        holder = self._holder(pid) or (self.holders[0] if self.holders else None)
        if holder is not None:
            self.holders.remove(holder)
        self.available += 1

    def apply(self, op: dict) -> None:
        name, pid = op["op"], op["pid"]
        if name == "wait":
            self.waiters.append(pid)
        elif name == "gave_up":
            if pid in self.waiters:
                self.waiters.remove(pid)
        elif name == "acquire":
            if op.get("depth", 1) > 1 and self._holder(pid):
                self._holder(pid)["depth"] = op["depth"]
                return
            if pid in self.waiters:
                self.waiters.remove(pid)
            self.holders.append({"pid": pid, "since": op["t"], "depth": 1})
            self.available -= 1
        elif name == "release":
            if op.get("depth", 0) > 0 and self._holder(pid):
                self._holder(pid)["depth"] = op["depth"]
            else:
                self._drop(pid)
        elif name == "break":
            self._drop(op["holder"])
        else:
            self.apply_more(op)

    def apply_more(self, op: dict) -> None:
        raise ValueError(f"unknown lock op {op['op']!r}")

    def as_named_lock(self, name: str) -> dict:
        """This lock in the ``locks`` format of the named locks: one holder and its waiters."""
        holder = self.holders[0] if self.holders else None
        return {
            "name": name,
            "holder_pid": holder and holder["pid"],
            "held_since": holder and holder["since"],
            "waiters": list(self.waiters),
        }

    def value(self) -> dict:
        return {
            "initial": self.initial,
            "available": self.available,
            "holders": [dict(h) for h in self.holders],
            "waiters": list(self.waiters),
        }
