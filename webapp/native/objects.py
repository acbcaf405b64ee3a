"""NativeObjects: the program's own Queues, Pipes, Values and shared memory, one value each.

Each process's agent knows only its part of a shared object (what it put and got, which
ends it holds) and sends it as *facts* (``mpscope_agent/native_objects.py``). Here the
facts of every process, the waits that name the object and which processes ended are
merged into the object's value by its kind's merger, and each new value is one ``sample``
op through ManagerJournals (one order with every Manager's ops): the page, the recording
and the diagnoses read native objects as they read a Manager's.

A kind module registers its merger with :func:`merger`::

    @merger("Queue", "SimpleQueue")
    def merge_queue(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict: ...

``facts``: PID -> what that process last said (the latest told last); ``blocked``: PID ->
its wait on the object (``call``, ``since``, ``text``); ``ended``: the PIDs among them
that ended. It returns the object's JSON-ready value (docs/objects.md gives each shape).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sharedstate.kinds import LOCK_KINDS

from ..journals import ManagerJournals

Merger = Callable[[dict[int, dict], dict[int, dict], set[int]], Any]
MERGERS: dict[str, Merger] = {}
MAX_OBJECTS = 10_000  # native objects followed; more are not shown (a program may make millions)
MAX_LABEL = 200
MAX_ENDED = 10_000  # ended PIDs remembered (for the mergers: "held by a process that ended")


def merger(*kinds: str) -> Callable[[Merger], Merger]:
    """Register the decorated function as the merger of ``kinds``."""

    def register(merge: Merger) -> Merger:
        for kind in kinds:
            MERGERS[kind] = merge
        return merge

    return register


class NativeObjects:
    """Every process's facts about the program's own non-lock objects, merged per kind."""

    def __init__(self, journals: ManagerJournals) -> None:
        self.journals = journals
        self.kinds: dict[str, str] = {}  # oid -> kind, once announced
        self.facts: dict[str, dict[int, dict]] = {}  # oid -> PID -> facts (also before the announce)
        self.blocked: dict[str, dict[int, dict]] = {}  # oid -> PID -> its wait on it
        self.waits: dict[int, str] = {}  # PID -> the object it waits on
        self.ended: set[int] = set()
        self.values: dict[str, Any] = {}  # oid -> the value last applied
        self.lock = threading.Lock()

    def receive(self, pid: int, message: dict) -> None:
        """A ``native`` message: objects made in ``pid``, and its facts that changed."""
        changed, ops = set(), []
        with self.lock:
            for obj in message.get("objects") or []:
                oid, kind = obj.get("oid"), obj.get("kind")
                if not isinstance(oid, str) or kind in LOCK_KINDS or kind not in MERGERS or oid in self.kinds:
                    continue
                if len(self.kinds) >= MAX_OBJECTS:
                    break
                self.kinds[oid] = kind
                label = str(obj.get("label") or kind)[:MAX_LABEL]
                value = self._merge(oid)
                self.values[oid] = value
                ops.append((oid, "create", (kind, label, value), pid))
            facts = message.get("facts")
            if isinstance(facts, dict):
                for oid, said in facts.items():
                    if isinstance(oid, str) and isinstance(said, dict) and len(self.facts) < MAX_OBJECTS:
                        by = self.facts.setdefault(oid, {})
                        by.pop(pid, None)  # the latest facts last: a merger may prefer them
                        by[pid] = said
                        changed.add(oid)
            ops += self._resample(changed, pid)
            self._apply(ops)  # under the lock: two processes' samples are applied in their order

    def waiting(self, pid: int, waiting: dict | None) -> None:
        """Process ``pid`` now waits on ``waiting`` (its ``oid``, if one of these objects), or runs."""
        oid = waiting.get("oid") if isinstance(waiting, dict) else None
        with self.lock:
            before = self.waits.pop(pid, None)
            changed = set()
            if before is not None:
                self.blocked.get(before, {}).pop(pid, None)
                changed.add(before)
            if isinstance(oid, str) and (oid in self.kinds or oid in self.facts):
                self.waits[pid] = oid
                wait = {key: waiting.get(key) for key in ("call", "since", "text")}
                self.blocked.setdefault(oid, {})[pid] = wait
                changed.add(oid)
            self._apply(self._resample(changed, pid))

    def processes_ended(self, pids: set[int]) -> None:
        """These processes ended: they wait no more; the mergers see them as ended."""
        for pid in pids:
            self.waiting(pid, None)
        with self.lock:
            self.ended |= pids
            if len(self.ended) > MAX_ENDED:
                self.ended = set(sorted(self.ended)[-MAX_ENDED // 2 :])
            touched = {oid for oid, by in self.facts.items() if pids & by.keys()}
            self._apply(self._resample(touched, 0))

    def _resample(self, oids: set[str], pid: int) -> list[tuple]:
        ops = []
        for oid in oids:
            if oid not in self.kinds:
                continue  # facts that came before the object was announced: merged once it is
            value = self._merge(oid)
            if value != self.values.get(oid):
                self.values[oid] = value
                ops.append((oid, "sample", (value,), pid))
        return ops

    def _merge(self, oid: str) -> Any:
        facts = self.facts.get(oid, {})
        ended = {pid for pid in facts if pid in self.ended}
        return MERGERS[self.kinds[oid]](facts, dict(self.blocked.get(oid, {})), ended)

    def _apply(self, ops: list[tuple]) -> None:
        if ops:
            now = time.time()
            self.journals.apply_native([(0, oid, op, args, pid, now) for oid, op, args, pid in ops])
