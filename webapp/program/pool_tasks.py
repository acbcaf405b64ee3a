"""The Pool / ProcessPoolExecutor task table, built from the agents' task events.

A task is keyed by (owning PID, kind, job, chunk); its events may arrive in any order
(the parent's "queued" and the worker's "start" come over different connections), so
each event fills in what it knows. At most ``cap`` tasks are kept, finished ones
dropped first. Every event costs O(1) (a callback finds its job's tasks by index): a
program that runs 100,000 tasks with callbacks must not wait on the dashboard. Changed
tasks are pushed as one ``pool_tasks`` batch per ``FRAME``, each task once however many of
its events came in the frame.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

QUEUED, RUNNING, DONE, FAILED, LOST = "queued", "running", "done", "failed", "lost"
CANCELLED = "cancelled"  # its pool was terminate()d while it ran: how a `with Pool()` block ends
MAX_ERROR = 20_000
MAX_NAME = 200  # a task's func and pool label, as kept and served (a program may name anything)
MAX_ARGS = 80  # a task's arguments' text (the agent's mpscope_agent/task_args.py writes at most this)
FRAME = 0.1  # seconds between two pushes of the changed tasks
MAX_ENDED = 10_000  # ended workers remembered (see PoolTaskTable.ended)


def _name(value) -> str | None:
    return None if value is None else str(value)[:MAX_NAME]


def _args(value) -> str | None:
    return value[:MAX_ARGS] if isinstance(value, str) else None


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PoolTaskTable:
    """Every task the program's pools ran, queued or running or finished."""

    def __init__(self, emit: Callable[[list[dict]], None], cap: int = 5000, frame: float = FRAME) -> None:
        self.emit = emit  # called with the tasks changed in the last frame, from a timer thread
        self.cap = cap
        self.frame = frame
        # changed since the last push, by key: copied once per frame, not per event (a task
        # has three or four events, all in one frame when it is fast)
        self.changed: dict[tuple, dict] = {}
        self.flusher: threading.Timer | None = None
        self.tasks: collections.OrderedDict[tuple, dict] = collections.OrderedDict()
        # finished tasks' keys, oldest first: what a full table drops first (found without a scan)
        self.finished: collections.OrderedDict[tuple, None] = collections.OrderedDict()
        self.chunks: dict[tuple, set[int]] = {}  # (owner, kind, job) -> its kept chunks (for callbacks)
        self.pool_of: dict[int, str] = {}  # worker PID -> its pool's label
        # worker PID -> what a task it was running became when it ended (lost, cancelled): a
        # start that comes after (read from its task log, once it was gone) becomes that too
        self.ended: collections.OrderedDict[int, str] = collections.OrderedDict()
        self.lock = threading.Lock()

    def pool_members(self, label: str, pids: list[int]) -> None:
        label = label[:MAX_NAME]
        with self.lock:
            for pid in pids:
                self.pool_of[pid] = label

    def record(self, pid: int, message: dict) -> None:
        """Apply the task events sent by process ``pid``: one (``task``), a worker's batch of
        them (``tasks``: its task log's events, each as a ``task`` message would be), or one
        that stands for many: ``tasks``, each ``[job, chunk, time]``, sharing the message's
        other fields (the parent's queued and callback events)."""
        events = message.get("events") if message.get("t") == "tasks" else [message]
        if not isinstance(events, list):
            return
        with self.lock:
            for event in events:
                if isinstance(event, dict):
                    self._record(pid, event)
            self._trim()

    def _record(self, pid: int, event: dict) -> None:
        try:
            owner, kind, ev = int(event["owner"]), str(event["kind"]), event["ev"]
            batch = event.get("tasks")
            calls = [(event["job"], event["i"], event["time"])] if batch is None else batch
        except (KeyError, TypeError, ValueError):
            return
        if not isinstance(calls, list):
            return
        for call in calls:
            try:
                job, i, t = call
                key, t = (owner, kind, int(job), int(i)), float(t)
            except (TypeError, ValueError):
                continue
            if ev == "callback":
                key = self._callback(key, pid, event, t)
                if key is None:
                    continue
            else:
                task = self.tasks.get(key) or self._new(key, event)
                self._apply(task, pid, ev, event, t)
                if task["state"] in (DONE, FAILED, LOST, CANCELLED):
                    self.finished[key] = None
            self._changed(key)

    def workers_ended(self, pids: set[int], state: str = LOST) -> None:
        """Workers ended: a task still running on one of them is lost (the pool never re-runs it),
        or ``cancelled`` when its pool was terminated (pushed with the next frame)."""
        # a worker's end is often known in two steps (its hang-up, then the status its parent
        # reaped): a task named lost at the first is cancelled once SIGTERM shows at the second
        was = (RUNNING, LOST) if state == CANCELLED else (RUNNING,)
        with self.lock:
            for pid in pids:
                self.ended[pid] = state
            while len(self.ended) > MAX_ENDED:
                self.ended.popitem(last=False)
            lost = [(k, t) for k, t in self.tasks.items() if t["state"] in was and t["pid"] in pids]
            for k, task in lost:
                task["state"] = state
                self.finished[k] = None
                self._changed(k)

    def all(self) -> list[dict]:
        with self.lock:
            return [dict(task) for task in self.tasks.values()]

    def clear(self) -> None:
        with self.lock:
            self.tasks.clear()
            self.finished.clear()
            self.chunks.clear()
            self.ended.clear()
            self.pool_of.clear()
            self.changed.clear()

    def _new(self, key: tuple, event: dict) -> dict:
        owner, kind, job, i = key
        task = {
            "id": f"{owner}:{kind}:{job}:{i}",
            "pool": _name(event.get("pool")),
            "func": _name(event.get("func")),
            "args": None,  # its (first) call's arguments as text, once a worker took it
            "pid": None,
            "owner": owner,
            "job": job,
            "chunk": i,
            "items": _count(event.get("n", 1)),
            "state": QUEUED,
            "queued_at": None,
            "started_at": None,
            "ended_at": None,
            "error": None,
            "callback": None,
        }
        self.tasks[key] = task
        self.chunks.setdefault(key[:3], set()).add(i)
        return task

    def _apply(self, task: dict, pid: int, ev: str, event: dict, t: float) -> None:
        task["func"] = task["func"] or _name(event.get("func"))
        if ev == "queued":
            task["queued_at"] = t
            task["pool"] = _name(event.get("pool")) or task["pool"]
        elif ev == "start":
            task["pid"], task["started_at"], task["items"] = pid, t, _count(event.get("n", 1))
            task["args"] = _args(event.get("args"))
            task["pool"] = task["pool"] or self.pool_of.get(pid)
            if task["state"] == QUEUED:
                task["state"] = self.ended.get(pid, RUNNING)
        elif ev == "end":
            task["pid"] = task["pid"] or pid
            task["ended_at"] = t
            task["state"] = DONE if event.get("ok") else FAILED
            if not event.get("ok"):
                task["error"] = str(event.get("error") or "")[:MAX_ERROR]

    def _changed(self, key: tuple) -> None:
        self.changed[key] = self.tasks[key]
        if self.flusher is None:
            self.flusher = threading.Timer(self.frame, self._push)
            self.flusher.daemon = True
            self.flusher.start()

    def push(self) -> None:
        """Push the tasks changed since the last frame now (the program ended: a recording or a
        page must not miss its last frame when mpscope stops within it)."""
        with self.lock:
            if self.flusher is not None:
                self.flusher.cancel()
        self._push()

    def _push(self) -> None:
        with self.lock:
            batch = [dict(task) for task in self.changed.values()]
            self.changed.clear()
            self.flusher = None
        if batch:
            self.emit(batch)

    def _callback(self, key: tuple, pid: int, event: dict, t: float) -> tuple | None:
        """Mark the callback; the key of the task marked (None if its job is not kept)."""
        # map_async's callback runs once for the whole job: mark it on the job's last chunk
        chunks = self.chunks.get(key[:3])
        if not chunks:
            return None
        key = (*key[:3], max(chunks))
        last = self.tasks[key]
        last["callback"] = {
            "pid": pid,
            "thread": _name(event.get("thread")),
            "error_callback": bool(event.get("error_callback")),
            "at": t,
        }
        return key

    def _trim(self) -> None:
        while len(self.tasks) > self.cap:
            if self.finished:
                key, _ = self.finished.popitem(last=False)
            else:
                key = next(iter(self.tasks))
            self.tasks.pop(key)
            chunks = self.chunks.get(key[:3])
            if chunks is not None:
                chunks.discard(key[3])
                if not chunks:
                    del self.chunks[key[:3]]
