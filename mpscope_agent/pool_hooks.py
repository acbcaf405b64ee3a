"""Pool hooks: each task queued, started, ended, and where callbacks ran.

The parent reports a task when it is queued (``apply_async``, ``map``...),
and where a callback ran; the worker reports when it took the task and how it ended, by
reading the task and result queues through :class:`QueueTap`. Tasks are keyed by the
owning process, the kind, the job and the chunk: Pool job numbers are unique per
process, ProcessPoolExecutor work ids per executor.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import os
import sys
import threading
import time
import traceback
import weakref

from . import protocol
from .task_args import call_text

OWN_DIRS = (
    os.sep + "multiprocessing" + os.sep,
    os.sep + "concurrent" + os.sep,
    os.sep + "mpscope_agent" + os.sep,
    os.sep + "joblib" + os.sep,  # joblib makes the pool (its multiprocessing backend, loky's executor)
    os.sep + "loky" + os.sep,
)
labels: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
counter = itertools.count(1)


def creation_site() -> str:
    """``file.py:LINE`` of the program line that made the pool (the first frame outside the stdlib pools)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(d in name for d in OWN_DIRS) and not name.startswith("<frozen"):
            return f"{os.path.basename(name)}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def labelling(init, name: str):
    """A pool class's ``init`` that first labels the pool ``NAME-n (file.py:LINE)``: the name
    its tasks and workers are shown under."""

    @functools.wraps(init)
    def wrapped_init(self, *args, **kwargs):
        labels[self] = f"{name}-{next(counter)} ({creation_site()})"
        init(self, *args, **kwargs)

    return wrapped_init


def func_name(func) -> str:
    batch = joblib_batch(func)
    if batch is not None:
        return batch[0]
    func = getattr(func, "func", func)  # functools.partial
    return getattr(func, "__qualname__", None) or repr(func)[:80]


def joblib_batch(func) -> tuple[str, int] | None:
    """A joblib batch (``BatchedCalls``: the calls joblib sends a worker at once): its first
    function's name and its number of calls; None for anything else. Read by duck type: the
    agent imports nothing of joblib."""
    if type(func).__name__ != "BatchedCalls":
        func = getattr(func, "func", None)  # joblib's multiprocessing backend wraps it (its ``func``)
    items = getattr(func, "items", None) if type(func).__name__ == "BatchedCalls" else None
    if isinstance(items, list) and items and isinstance(items[0], tuple) and items[0]:
        return func_name(items[0][0]), len(items)
    return None


def owner_pid() -> int:
    """The PID of the process that started this one (a forkserver child's parent is the forkserver)."""
    process = sys.modules.get("multiprocessing.process")
    parent = process.parent_process() if process is not None else None
    return parent.pid if parent is not None else os.getppid()


def failure_text(error) -> str:
    text = getattr(error, "tb", None)  # ExceptionWithTraceback keeps the worker's traceback as text
    if isinstance(text, str):
        return text.strip().strip('"').strip()
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


_string = json.encoder.encode_basestring_ascii


def _json_text(value) -> str:
    """A JSON string of ``value`` (its repr if it is not a str), or null."""
    if value is None:
        return "null"
    return _string(value if isinstance(value, str) else repr(value))


def _task_head(ev: str, kind: str, owner: int) -> str:
    """The opening of a task event's JSON line, up to its task (the same for every event of
    this kind in this process, so kept). A worker sends two per task (100,000 tiny tasks:
    200,000), so they are written by hand: an f-string is ~6 times cheaper than ``json.dumps``
    of a dict."""
    return f'{{"t":"task","ev":"{ev}","kind":{_json_text(kind)},"owner":{owner:d},'


def _dict_line(message: dict) -> bytes:
    """The line of a task event whose hand-written form failed (a job that is not an int, a
    name whose repr raises...): as any message is written."""
    try:
        return protocol.line(message)
    except Exception:
        return b""  # nothing: a task event is never raised into the program


class TaskReporter:
    """A worker's task events: each task it takes (``start``) and how it ended (``end``), as
    lines written by hand (a ``json.dumps`` per event was a large part of a worker's cost).

    Both go into the process's :class:`~.task_log.TaskLog` at once: the start before the task
    runs, the end before the parent can have the result. The log survives the process, so a
    worker killed in its task, however soon after it took it (a task that crashes at once,
    after a run of fast ones), has said which task it took, and the lost_task diagnosis
    names it; its writer thread sends many events per write.
    """

    def __init__(self, channel, kind: str) -> None:
        self.channel, self.kind = channel, kind
        self.log = channel.task_log
        self._forked()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.owner = None  # owner_pid(), once known in this process
        self.heads = {}  # event -> the head of its lines, up to the job (this process's)

    def _head(self, ev: str) -> str:
        head = self.heads.get(ev)
        if head is None:
            if self.owner is None:
                self.owner = owner_pid()
            head = self.heads[ev] = _task_head(ev, self.kind, self.owner)
        return head

    def start(self, job, i, func: str, args: str | None, n: int) -> None:
        if self.channel.sock is None:
            return
        now = time.time()
        try:
            fields = f',"func":{_json_text(func)},"args":{_json_text(args)},"n":{n:d}'
            data = f'{self._head("start")}"job":{job:d},"i":{i:d}{fields},"time":{now!r}}}\n'.encode()
        except Exception:
            data = _dict_line(
                {"t": "task", "ev": "start", "kind": self.kind, "owner": owner_pid(), "job": job, "i": i}
                | {"func": func, "args": args, "n": n, "time": now}
            )
        self.log.add(data)

    def end(self, job, i, ok: bool, error: str | None) -> None:
        if self.channel.sock is None:
            return
        now = time.time()
        try:
            fields = f',"ok":{"true" if ok else "false"},"error":{_json_text(error)}'
            data = f'{self._head("end")}"job":{job:d},"i":{i:d}{fields},"time":{now!r}}}\n'.encode()
        except Exception:
            data = _dict_line(
                {"t": "task", "ev": "end", "kind": self.kind, "owner": owner_pid(), "job": job, "i": i}
                | {"ok": ok, "error": error, "time": now}
            )
        self.log.add(data)


MAX_BATCH = 10_000  # events a batch holds before the adding thread writes them itself


class EventBatch:
    """The parent's task events of one kind (``queued``, ``callback``): one per task, so they
    are not lines each. ``add`` keeps the event's values (~0.2 us); the channel's writer,
    within its window, asks ``take()`` for one line per group of events that share their
    fields (a pool and function, a thread), each event ``[job, chunk, time]`` in ``tasks``."""

    def __init__(self, channel, ev: str, kind: str, fields: tuple[str, str]) -> None:
        self.channel, self.ev, self.kind, self.fields = channel, ev, kind, fields
        self._forked()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        # No lock: a deque's append and popleft are atomic. An event is appended before
        # ``queued`` is read, and take() clears ``queued`` before it drains: an event is taken
        # by the take() that follows it, at worst with one more (empty) take queued.
        self.events: collections.deque[tuple] = collections.deque()  # a forked child's: not the parent's
        self.queued = False  # in the channel's queue (its writer will call take())

    def add(self, first, second, job, i, now: float) -> None:
        """One event: its two fields' values, its task and time."""
        events = self.events
        events.append((first, second, job, i, now))
        if not self.queued:
            self.queued = True
            self.channel.send_line(self, defer=True)
        if len(events) >= MAX_BATCH:  # a dashboard that falls behind holds the program back
            self.channel.flush()

    def take(self) -> bytes:
        self.queued = False
        events, pop = self.events, self.events.popleft
        groups: dict[tuple, list] = {}
        for _ in range(len(events)):
            first, second, job, i, now = pop()
            groups.setdefault((first, second), []).append((job, i, now))
        owner, (name1, name2) = os.getpid(), self.fields
        lines = []
        for (first, second), tasks in groups.items():
            try:
                calls = ",".join([f"[{job:d},{i:d},{now!r}]" for job, i, now in tasks])
                head = f'{{"t":"task","ev":"{self.ev}","kind":{_json_text(self.kind)},"owner":{owner:d}'
                lines.append(
                    f'{head},"{name1}":{_json_value(first)},"{name2}":{_json_value(second)},"tasks":[{calls}]}}\n'
                )
            except Exception:
                message = {"t": "task", "ev": self.ev, "kind": self.kind, "owner": owner}
                lines.append(_dict_line(message | {name1: first, name2: second, "tasks": tasks}).decode())
        return "".join(lines).encode()


def _json_value(value) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return _json_text(value)


def report_callback(batch: EventBatch, job, error: bool) -> None:
    """Say that the callback of task ``job`` (chunk 0) runs now, in this thread."""
    if batch.channel.sock is not None:
        batch.add(threading.current_thread().name, error, job, 0, time.time())


class QueueTap:
    """A task or result queue that reports what passes through it, and is otherwise the queue."""

    def __init__(self, queue, on_get=None, on_put=None) -> None:
        self._queue, self._on_get, self._on_put = queue, on_get, on_put

    def __getattr__(self, name):
        return getattr(self._queue, name)

    def get(self, *args, **kwargs):
        item = self._queue.get(*args, **kwargs)
        if self._on_get is not None:
            self._on_get(item)
        return item

    def put(self, item, *args, **kwargs):
        if self._on_put is not None:
            self._on_put(item)
        return self._queue.put(item, *args, **kwargs)


def _wrap_callback(batch, job_of, callback, error):
    if callback is None:
        return None

    # no functools.wraps: copying the callback's attributes cost ~13 us per apply_async
    def ran_here(value):
        report_callback(batch, job_of(), error)
        return callback(value)

    return ran_here


def patch_pool(module, channel) -> None:
    """Hook ``multiprocessing.pool``: the worker loop, Pool creation, apply_async and map."""
    worker = module.worker
    mapstars = (module.mapstar, module.starmapstar)

    reporter = TaskReporter(channel, "pool")

    def started(task):
        if task is None:
            return
        job, i, func, args, kwds = task
        n = 1
        if func in mapstars:  # map's chunk: (func, items); the first item's call is shown
            star = func is mapstars[1]  # starmap: each item is the call's arguments
            func, items = args[0][0], args[0][1]
            n = len(items)
            first = items[0] if n else ()
            args, kwds = (first if star and type(first) is tuple else (first,)), None
        elif (batch := joblib_batch(func)) is not None:
            n = batch[1]  # joblib's multiprocessing backend: a batch of calls per task
            args, kwds = (), None
        # the args: of its (first) call, for the tooltip
        reporter.start(job, i, func_name(func), call_text(args, kwds), n)

    def ended(item):
        if not (isinstance(item, tuple) and len(item) == 3):
            return
        job, i, (ok, value) = item
        # written at once, before the parent can have the result
        reporter.end(job, i, ok, None if ok else failure_text(value))

    @functools.wraps(worker)
    def tapped_worker(inqueue, outqueue, *args, **kwargs):
        return worker(QueueTap(inqueue, on_get=started), QueueTap(outqueue, on_put=ended), *args, **kwargs)

    module.worker = tapped_worker
    pool_class = module.Pool
    init, repopulate = pool_class.__init__, pool_class._repopulate_pool
    apply_async, map_async = pool_class.apply_async, pool_class._map_async
    set_result = module.ApplyResult._set  # MapResult has its own (its callbacks stay wrapped)

    @functools.wraps(repopulate)
    def wrapped_repopulate(self):
        result = repopulate(self)
        pids = [p.pid for p in self._pool if p.pid is not None]
        channel.send({"t": "pool", "label": labels.get(self, "Pool"), "pids": pids})
        return result

    queued_batch = EventBatch(channel, "queued", "pool", ("pool", "func"))
    callback_batch = EventBatch(channel, "callback", "pool", ("thread", "error_callback"))

    def queued(self, job, count, func, now):
        if channel.sock is None:
            return
        pool, name = labels.get(self, "Pool"), func_name(func)
        for i in range(count):
            queued_batch.add(pool, name, job, i, now)

    def reported(callback, error_callback):
        """The two callbacks, reporting where they ran; the job id goes in the box once known."""
        box = []

        def job_of():
            return box[0]

        return (
            box,
            _wrap_callback(callback_batch, job_of, callback, False),
            _wrap_callback(callback_batch, job_of, error_callback, True),
        )

    @functools.wraps(apply_async)
    def wrapped_apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):  # noqa: B006
        # its callbacks are reported by ApplyResult._set, not wrapped: the closures made per
        # task had the garbage collector run more often, over every pending result
        now = time.time()  # before: a worker may take the task before apply_async returns
        result = apply_async(self, func, args, kwds, callback, error_callback)
        queued(self, result._job, 1, func, now)
        return result

    @functools.wraps(set_result)
    def wrapped_set(self, i, obj):
        if type(obj) is tuple and len(obj) == 2:
            callback = self._callback if obj[0] else self._error_callback
            if callback:
                report_callback(callback_batch, self._job, not obj[0])
        return set_result(self, i, obj)

    @functools.wraps(map_async)
    def wrapped_map_async(self, func, iterable, mapper, chunksize=None, callback=None, error_callback=None):
        box, on_result, on_error = reported(callback, error_callback)
        now = time.time()
        result = map_async(self, func, iterable, mapper, chunksize, on_result, on_error)
        box.append(result._job)
        length, size = len(result._value or ()), result._chunksize or 1
        queued(self, result._job, -(-length // size), func, now)
        return result

    pool_class.__init__, pool_class._repopulate_pool = labelling(init, "Pool"), wrapped_repopulate
    pool_class.apply_async, pool_class._map_async = wrapped_apply_async, wrapped_map_async
    module.ApplyResult._set = wrapped_set
