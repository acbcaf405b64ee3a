"""Diagnoses: the classic multiprocessing hangs, named in plain words with the fix.

Computed by the rules of ``diagnosis_rules`` from what the core already knows — each
process's wait (sampled by its agent), the lock-like objects' holders and waiters, the pool
tasks, each process's end and its stderr — whenever any of it changes (``poke``), at most
every ``GAP`` seconds, and pushed to clients as ``diagnoses`` when the set changes. Each diagnosis is
``{"id", "kind", "title", "text", "pids", "objects", "since"}``; its id stays the same
while it holds, so ``since`` is when it was first named.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from sharedstate.kinds import LOCK_KINDS

from .diagnosis_rules import GUIDE, compute
from .locks import single_holder_locks
from .mirror import SharedStateMirror
from .processes import ProcessTable

__all__ = ["GUIDE", "Diagnoses", "compute"]

logger = logging.getLogger(__name__)

GAP = 0.25  # seconds: at most one computation per gap, however often poked
RECHECK = 1.0  # and once a second anyway (a holder's death is seen by psutil before any event)
MAIN_GUARD = "bootstrapping phase"  # in the RuntimeError a spawn child raises without the guard
UNPICKLABLE = ("PicklingError", "Can't pickle", "cannot pickle", "Can't get attribute")
MAX_EVIDENCE = 100  # stderr lines kept per kind
# the kinds whose changes can prove or end a hang: lock-likes (holders, waiters), barriers, pipes
CONCERNING = frozenset((*LOCK_KINDS, "Condition", "Barrier", "Pipe"))


class Diagnoses:
    """The diagnoses in force now, and the thread that keeps them current."""

    def __init__(
        self,
        processes: ProcessTable,
        mirror: SharedStateMirror,
        pool_tasks: Callable[[], list[dict]],
        emit: Callable[[dict], None],
    ) -> None:
        self.processes = processes
        self.mirror = mirror
        self.pool_tasks = pool_tasks
        self.emit = emit
        self.current: list[dict] = []
        self.first_seen: dict[str, float] = {}
        self.evidence: dict[str, dict[int, str]] = {"main_guard": {}, "unpicklable": {}}
        self.lock = threading.Lock()
        self.poked = threading.Event()
        self.closing = False
        self.thread = threading.Thread(target=self._run, name="mpscope-diagnoses", daemon=True)
        self.thread.start()

    # -- what the core tells it -----------------------------------------------------
    def poke(self) -> None:
        """Something changed: look again soon."""
        self.poked.set()

    def changed(self, payload: dict) -> None:
        """A ``changes`` batch: look again only if it touched an object a diagnosis reads. A
        dict's or a queue's writes cannot prove or end a hang, and at 1,000 writes/s looking
        after each batch cost ~10% of the server's CPU per change (make bench: server_us)."""
        if any(op.get("kind") in CONCERNING for op in payload.get("ops", ())):
            self.poke()

    def stderr_lines(self, lines: list[dict]) -> None:
        """Output lines as they are captured: keep the ones that prove a hang's cause."""
        found = False
        for line in lines:
            if line.get("stream") != "stderr":
                continue
            text = line.get("text") or ""
            if MAIN_GUARD in text:
                kind = "main_guard"
            elif any(marker in text for marker in UNPICKLABLE):
                kind = "unpicklable"
            else:
                continue
            with self.lock:
                kept = self.evidence[kind]
                if len(kept) < MAX_EVIDENCE:
                    kept.setdefault(line["pid"], text.strip()[:300])
                    found = True
        if found:
            self.poke()

    def forget(self) -> None:
        """The program runs again: what its last run proved is over."""
        with self.lock:
            for kept in self.evidence.values():
                kept.clear()
        self.poke()

    def all(self) -> list[dict]:
        with self.lock:
            return list(self.current)

    def close(self) -> None:
        self.closing = True
        self.poked.set()
        self.thread.join(2)

    # -- the thread -------------------------------------------------------------------
    def _run(self) -> None:
        while not self.closing:
            self.poked.wait(RECHECK)
            self.poked.clear()
            if self.closing:
                return
            try:
                self._update()
            except Exception:  # a diagnosis must never stop the others, nor the dashboard
                logger.exception("diagnoses could not be computed")
            time.sleep(GAP)

    def _update(self) -> None:
        objects = self.mirror.lock_objects(catch_up=False)
        cycles = self.mirror.snapshot_locks(catch_up=False) + single_holder_locks(objects)
        held = [
            {"object": oid, "kind": kind, "pid": holder["pid"]}
            for oid, kind, value in objects
            for holder in value.get("holders", [])
        ]
        barriers = self.mirror.values_of(("Barrier",))
        pipes = self.mirror.values_of(("Pipe",))
        self.processes.held_by(_holders_of_waiters(objects))
        infos = self.processes.infos()
        waited = [w["waiting"]["oid"] for w in infos if (w.get("waiting") or {}).get("oid")]  # native Queues
        labels = self.mirror.labels([oid for oid, _, _ in objects + barriers + pipes] + waited)
        found = compute(infos, cycles, held, self.pool_tasks(), self._evidence(), labels, barriers, pipes)
        now = time.time()
        with self.lock:
            for item in found:
                item["since"] = self.first_seen.setdefault(item["id"], now)
            self.first_seen = {item["id"]: item["since"] for item in found}
            changed = _key(found) != _key(self.current)
            self.current = found
        if changed:
            self.emit({"diagnoses": found})

    def _evidence(self) -> dict[str, dict[int, str]]:
        with self.lock:
            return {kind: dict(kept) for kind, kept in self.evidence.items()}


def _holders_of_waiters(objects: list[tuple[str, str, dict]]) -> dict[int, list[int]]:
    """Waiter PID -> the PIDs holding the lock-like object it waits for (the first such object)."""
    found: dict[int, list[int]] = {}
    for _oid, _kind, value in objects:
        holders = sorted({h["pid"] for h in value.get("holders", []) if isinstance(h.get("pid"), int)})
        for waiter in value.get("waiters", []):
            others = [pid for pid in holders if pid != waiter]
            if isinstance(waiter, int) and others:
                found.setdefault(waiter, others)
    return found


def _key(diagnoses: list[dict]) -> str:
    return json.dumps([{k: v for k, v in d.items() if k != "since"} for d in diagnoses], sort_keys=True)
