"""The Barrier kind: parties, who is waiting, how many times it passed, broken or not."""

from __future__ import annotations

import threading

from ..journal import caller_pid
from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedBarrier(threading.Barrier):
    """Manager side: ``threading.Barrier``, journalling arrivals and passes.

    It waits on a lock of its own, as a plain Barrier does, and takes the journal's lock
    only to change what it records and record it: its ``action`` runs with no journal lock
    held, so an action that calls back into the same Manager (appends to one of its lists)
    goes on as with a plain Manager. (On the journal's lock, that append waited for ever.)
    """

    def __init__(self, journal: Any, parties: int, action: Any = None, timeout: float | None = None) -> None:
        super().__init__(parties, action, timeout)
        # reentrant: wait() holds it around threading.Barrier.wait, which takes it again
        self._cond = threading.Condition(threading.RLock())
        self._journal_lock = journal.lock
        self._waiting: list[int] = []
        self._passed = 0

    def __repr__(self) -> str:
        if self.broken:
            return f"<threading.Barrier at {id(self):#x}: broken>"
        return f"<threading.Barrier at {id(self):#x}: waiters={self.n_waiting}/{self.parties}>"

    def _raw(self) -> dict:
        return {
            "parties": self._parties,
            "waiting": list(self._waiting),
            "broken": self.broken,
            "passed": self._passed,
        }

    def wait(self, timeout: float | None = None) -> int:
        pid = caller_pid()
        with self._cond:
            with self._journal_lock:
                self._waiting.append(pid)
                self._journal.record(self._oid, "wait")
            try:
                return super().wait(timeout)
            except BaseException:
                # broken, or the action raised in this (the last) party: it waits no more
                with self._journal_lock:
                    if pid in self._waiting:
                        self._waiting.remove(pid)
                        self._journal.record(self._oid, "leave")
                raise

    def _release(self) -> None:
        # the last party arrived: the action runs (no journal lock held), then everyone goes
        # on. threading.Barrier._release, with the pass recorded once the action succeeded
        try:
            if self._action:
                self._action()
            with self._journal_lock:
                self._waiting.clear()
                self._passed += 1
                self._journal.record(self._oid, "pass")
            self._state = 1  # draining
            self._cond.notify_all()
        except BaseException:
            self._break()
            raise

    def _break(self) -> None:
        with self._journal_lock:
            super()._break()
            self._journal.record(self._oid, "abort")

    def reset(self) -> None:
        with self._cond, self._journal_lock:
            super().reset()
            self._journal.record(self._oid, "reset")


class BarrierReplica(Replica):
    OPS = {"wait": (), "pass": (), "abort": (), "reset": (), "leave": ()}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.parties, self.waiting = value["parties"], list(value["waiting"])
        self.broken, self.passed = value["broken"], value["passed"]

    @classmethod
    def from_raw(cls, raw: dict) -> BarrierReplica:
        return cls(raw)

    def apply(self, op: dict) -> None:
        name = op["op"]
        if name == "wait":
            self.waiting.append(op["pid"])
        elif name == "pass":
            self.waiting.clear()
            self.passed += 1
        elif name == "abort":
            self.broken = True
        elif name == "reset":
            self.broken = False
        elif name == "leave":
            if op["pid"] in self.waiting:
                self.waiting.remove(op["pid"])
        else:
            raise ValueError(f"unknown Barrier op {name!r}")

    def value(self) -> dict:
        return {
            "parties": self.parties,
            "waiting": list(self.waiting),
            "broken": self.broken,
            "passed": self.passed,
        }
