"""The Event kind: set or not, and who is waiting for it."""

from __future__ import annotations

import threading

from ..journal import caller_pid
from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedEvent(threading.Event):
    """Manager side: ``threading.Event`` on the journal's lock, journalling set, clear and waits."""

    def __init__(self, journal: Any) -> None:
        super().__init__()
        self._cond = threading.Condition(journal.lock)
        self._waiting: list[int] = []

    def __repr__(self) -> str:
        return f"<threading.Event at {id(self):#x}: {'set' if self._flag else 'unset'}>"

    def _raw(self) -> dict:
        return {"set": self._flag, "waiters": list(self._waiting)}

    def set(self) -> None:
        with self._cond:
            self._flag = True
            self._journal.record(self._oid, "set")
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._flag = False
            self._journal.record(self._oid, "clear")

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            if self._flag:
                return True
            pid = caller_pid()
            self._waiting.append(pid)
            self._journal.record(self._oid, "wait")
            try:
                return self._cond.wait(timeout)
            finally:
                self._waiting.remove(pid)
                self._journal.record(self._oid, "wake")


class EventReplica(Replica):
    OPS = {"set": (), "clear": (), "wait": (), "wake": ()}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.is_set, self.waiters = value["set"], list(value["waiters"])

    @classmethod
    def from_raw(cls, raw: dict) -> EventReplica:
        return cls(raw)

    def apply(self, op: dict) -> None:
        name = op["op"]
        if name in ("set", "clear"):
            self.is_set = name == "set"
        elif name == "wait":
            self.waiters.append(op["pid"])
        elif name == "wake":
            if op["pid"] in self.waiters:
                self.waiters.remove(op["pid"])
        else:
            raise ValueError(f"unknown Event op {name!r}")

    def value(self) -> dict:
        return {"set": self.is_set, "waiters": list(self.waiters)}
