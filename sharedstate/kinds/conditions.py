"""The Condition kind: who holds its lock and who is waiting in ``wait()``."""

from __future__ import annotations

import threading

from ..journal import caller_pid
from .locks import LockReplica, RecordedLock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedCondition(threading.Condition):
    """Manager side: ``threading.Condition`` over a recorded RLock (as SyncManager's is over an RLock)."""

    def __init__(self, journal: Any, lock: Any = None) -> None:
        self._lock_record = RecordedLock(journal, "RLock", owner=self) if lock is None else None
        super().__init__(lock if lock is not None else self._lock_record)

    def _raw(self) -> dict:
        raw = self._lock_record._raw() if self._lock_record else {"initial": 1, "available": 1, "holders": []}
        return {**raw, "waiters": list(self._in_wait)}

    @property
    def _in_wait(self) -> list:
        return self.__dict__.setdefault("_waiting_pids", [])

    def wait(self, timeout: float | None = None) -> bool:
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        journal = self._journal
        with journal.lock:
            pid = caller_pid()
            self._in_wait.append(pid)
            journal.record(self._oid, "wait")
        try:
            return super().wait(timeout)
        finally:
            with journal.lock:
                if pid in self._in_wait:
                    self._in_wait.remove(pid)
                journal.record(self._oid, "wake")

    def notify(self, n: int = 1) -> None:
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        with self._journal.lock:
            self._journal.record(self._oid, "notify", (n,))
        super().notify(n)


class ConditionReplica(LockReplica):
    """Encoded side: the lock's holders, plus the processes inside ``wait()``."""

    OPS = {**LockReplica.OPS, "wake": (), "notify": ("n",)}

    def apply(self, op: dict) -> None:
        if op["op"] == "wait":  # wait() released the lock and now waits to be notified
            holder = self._holder(op["pid"])
            if holder is not None:
                self.holders.remove(holder)
                self.available += 1
        LockReplica.apply(self, op)

    def apply_more(self, op: dict) -> None:
        if op["op"] == "wake":  # back from wait(), holding the lock again
            if op["pid"] in self.waiters:
                self.waiters.remove(op["pid"])
            self.holders.append({"pid": op["pid"], "since": op["t"], "depth": 1})
            self.available -= 1
        elif op["op"] != "notify":
            super().apply_more(op)
