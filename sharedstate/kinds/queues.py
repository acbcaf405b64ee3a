"""The Queue and JoinableQueue kinds: the items waiting, who put and got them, who is blocked."""

from __future__ import annotations

import collections
import queue
import threading
import time

from ..encoding import encode_list
from ..journal import caller_pid
from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedQueue(queue.Queue):
    """Manager side: ``queue.Queue`` (as SyncManager serves for both kinds) whose mutex is the
    journal's lock, so a put, a get and their journal entries are one step. The logic of
    ``get``/``put``/``join`` is queue.Queue's own, with the journal calls added.
    """

    def __init__(self, journal: Any, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.mutex = journal.lock
        self.not_empty = threading.Condition(self.mutex)
        self.not_full = threading.Condition(self.mutex)
        self.all_tasks_done = threading.Condition(self.mutex)
        self._blocked: list[list] = []  # [pid, call, since]

    def __repr__(self) -> str:
        return f"<queue.Queue object at {id(self):#x}>"

    def _raw(self) -> dict:
        return {
            "items": list(self.queue),
            "maxsize": self.maxsize,
            "unfinished": self.unfinished_tasks,
            "blocked": [list(b) for b in self._blocked],
        }

    def _wait(self, condition: threading.Condition, call: str, ready: Any, timeout: Any) -> None:
        """Block on ``condition`` until ``ready()``, journalling when we start and stop waiting."""
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        if ready():
            return
        entry = [caller_pid(), call, time.time()]
        self._blocked.append(entry)
        self._journal.record(self._oid, "block", (call,))
        try:
            end = None if timeout is None else time.monotonic() + timeout
            while not ready():
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise queue.Empty if call == "get" else queue.Full
                condition.wait(remaining)
        finally:
            self._blocked.remove(entry)
            self._journal.record(self._oid, "unblock", (call,))

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self.not_full:
            if self.maxsize > 0:
                if not block:
                    if self._qsize() >= self.maxsize:
                        raise queue.Full
                else:
                    self._wait(self.not_full, "put", lambda: self._qsize() < self.maxsize, timeout)
            self._put(item)
            self.unfinished_tasks += 1
            self._journal.record(self._oid, "put", (item,))
            self.not_empty.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self.not_empty:
            if not block:
                if not self._qsize():
                    raise queue.Empty
            else:
                self._wait(self.not_empty, "get", self._qsize, timeout)
            item = self._get()
            self._journal.record(self._oid, "get")
            self.not_full.notify()
            return item

    def task_done(self) -> None:
        with self.all_tasks_done:
            super().task_done()
            self._journal.record(self._oid, "task_done")

    def join(self) -> None:
        with self.all_tasks_done:
            self._wait(self.all_tasks_done, "join", lambda: not self.unfinished_tasks, None)


class QueueReplica(Replica):
    """Encoded side: the items in order with who put each, unfinished tasks, who is blocked."""

    OPS = {"put": ("value",), "get": (), "task_done": (), "block": ("call",), "unblock": ("call",)}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.items = collections.deque(value["items"])
        self.putters = collections.deque(writers or [None] * len(self.items))
        self.maxsize = value.get("maxsize", 0)
        self.unfinished = value.get("unfinished", 0)
        self.blocked = [dict(b) for b in value.get("blocked", [])]

    @classmethod
    def from_raw(cls, raw: dict) -> QueueReplica:
        blocked = [{"pid": pid, "call": call, "since": since} for pid, call, since in raw["blocked"]]
        return cls({**raw, "items": encode_list(raw["items"]), "blocked": blocked})

    def apply(self, op: dict) -> None:
        name = op["op"]
        if name == "put":
            self.items.append(op["value"])
            self.putters.append(op["pid"])
            self.unfinished += 1
        elif name == "get":
            if self.items:
                self.items.popleft()
                self.putters.popleft()
        elif name == "task_done":
            self.unfinished = max(0, self.unfinished - 1)
        elif name == "block":
            self.blocked.append({"pid": op["pid"], "call": op["call"], "since": op["t"]})
        elif name == "unblock":
            for i, b in enumerate(self.blocked):
                if b["pid"] == op["pid"] and b["call"] == op["call"]:
                    del self.blocked[i]
                    break
        else:
            raise ValueError(f"unknown Queue op {name!r}")

    def value(self) -> dict:
        return {
            "items": list(self.items),
            "maxsize": self.maxsize,
            "unfinished": self.unfinished,
            "blocked": [dict(b) for b in self.blocked],
        }

    def writers(self) -> list:
        return list(self.putters)

    def size(self) -> int:
        return len(self.items)
