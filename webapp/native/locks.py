"""NativeLocks: the program's own multiprocessing locks, as lock objects beside a Manager's.

Each process's agent says which of the program's locks it made (``native`` objects, with
the line that made them) and which it holds now (``held``, sampled); its wait says which
one it waits to acquire. Those become the ops a Manager's lock journals — ``create``,
``acquire``, ``release``, ``wait``, ``gave_up`` — applied through ManagerJournals, so the
same Lock panels, the locks table, deadlock cycles and dead holders serve both origins.
Holders are sampled (at most twice a second): a lock held and released between two
looks is not seen, which is the price of not wrapping a single ``acquire``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mpscope_agent import protocol
from sharedstate.kinds import LOCK_KINDS

from ..journals import ManagerJournals
from ..state import ManagerUnavailable
from .objects import MAX_OBJECTS as MAX_LOCKS


class NativeLocks:
    """Who holds and who waits for each of the program's own locks, replayed as lock ops."""

    def __init__(self, journals: ManagerJournals, send: Callable[[int, dict], bool]) -> None:
        self.journals = journals
        self.send = send  # to a process's agent
        self.known: set[str] = set()
        self.had_by: dict[str, set[int]] = {}  # oid -> the processes that have the object
        self.held: dict[int, dict[str, int]] = {}  # PID -> {oid: depth} as it last said
        self.waits: dict[int, str] = {}  # PID -> the lock it waits to acquire
        self.lock = threading.Lock()

    def receive(self, pid: int, message: dict) -> None:
        """A ``native`` message: locks made in ``pid`` and what it holds now."""
        now, ops = time.time(), []
        with self.lock:
            for obj in message.get("objects") or []:
                oid, kind = obj.get("oid"), obj.get("kind")
                if not isinstance(oid, str) or kind not in LOCK_KINDS or oid in self.known:
                    continue
                if len(self.known) >= MAX_LOCKS:  # a program may make millions: the first are shown
                    break
                initial = obj.get("initial") if isinstance(obj.get("initial"), int) else 1
                raw = {"initial": initial, "available": initial, "holders": [], "waiters": []}
                ops.append((oid, "create", (kind, str(obj.get("label") or kind), raw), pid))
                self.had_by.setdefault(oid, set()).add(pid)
                self.known.add(oid)
                ops += self._replay(oid)  # holds and waits told before the lock was
            held = message.get("held")
            if isinstance(held, dict):
                new = {oid: depth for oid, depth in held.items() if isinstance(depth, int) and depth > 0}
                ops += self._held(pid, new)
            self._apply(ops, now)

    def waiting(self, pid: int, waiting: dict | None) -> None:
        """Process ``pid`` now waits on ``waiting`` (its ``oid``: one of the program's locks), or runs."""
        oid = waiting.get("oid") if isinstance(waiting, dict) else None
        with self.lock:
            before = self.waits.get(pid)
            if before == oid:
                return
            ops = []
            if before is not None:
                del self.waits[pid]
                if before in self.known and before not in self.held.get(pid, {}):
                    ops.append((before, "gave_up", (), pid))
            if isinstance(oid, str):
                self.waits[pid] = oid
                self.had_by.setdefault(oid, set()).add(pid)
                if oid in self.known:
                    ops.append((oid, "wait", (), pid))
            self._apply(ops, time.time())

    def release(self, oid: str, kind: str, holder: int, is_alive: Callable[[int], bool]) -> None:
        """Free lock ``oid`` for its dead ``holder``: a live process of the program that has it
        releases it (a semaphore has no owner; an RLock can only be released by its own thread)."""
        if kind == "RLock":
            raise ManagerUnavailable("an RLock can only be released by the thread that holds it")
        if kind == "Condition":  # its lock is an RLock unless the program gave one (then free that one)
            raise ManagerUnavailable("a Condition's lock can only be released by the thread that holds it")
        with self.lock:
            live = [pid for pid in sorted(self.had_by.get(oid, ())) if pid != holder and is_alive(pid)]
            sent = next(
                (pid for pid in live if self.send(pid, {"t": protocol.RELEASE_NATIVE, "oid": oid})), None
            )
            if sent is None:
                raise ManagerUnavailable(f"no live process of the program has {oid} to release it")
            self.held.get(holder, {}).pop(oid, None)
            self._apply([(oid, "break", (holder,), sent)], time.time())

    def ended(self, pids: set[int]) -> None:
        """These processes ended: they wait no more, and what they held stays held (a dead holder)."""
        for pid in pids:
            self.waiting(pid, None)

    def _held(self, pid: int, new: dict[str, int]) -> list[tuple]:
        before = self.held.get(pid, {})
        self.held[pid] = new
        for oid in new:
            self.had_by.setdefault(oid, set()).add(pid)
        ops = [(oid, "release", (0,), pid) for oid in before if oid not in new and oid in self.known]
        for oid, depth in new.items():
            if oid not in self.known or before.get(oid) == depth:
                continue
            # an RLock's depth down (still held) is a release to that depth, as a Manager's records it
            ops.append((oid, "release" if depth < before.get(oid, 0) else "acquire", (depth,), pid))
        return ops

    def _replay(self, oid: str) -> list[tuple]:
        ops = [(oid, "acquire", (depth,), pid) for pid, held in self.held.items() if (depth := held.get(oid))]
        ops += [(oid, "wait", (), pid) for pid, waited in self.waits.items() if waited == oid]
        return ops

    def _apply(self, ops: list[tuple], now: float) -> None:
        if ops:
            self.journals.apply_native([(0, oid, op, args, pid, now) for oid, op, args, pid in ops])
