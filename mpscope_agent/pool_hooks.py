"""Pool hooks: each task queued, started, ended, and where callbacks ran.

The parent reports a task when it is queued (``apply_async``, ``map``...),
and where a callback ran; the worker reports when it took the task and how it ended, by
reading the task and result queues through :class:`QueueTap`. Tasks are keyed by the
owning process, the kind, the job and the chunk: Pool job numbers are unique per
process, ProcessPoolExecutor work ids per executor.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
import time
import traceback
import weakref

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


def _wrap_callback(channel, kind, job_of, callback, error):
    if callback is None:
        return None

    # no functools.wraps: copying the callback's attributes cost ~13 us per apply_async
    def ran_here(value):
        where = threading.current_thread().name
        channel.send(
            {
                "t": "task",
                "ev": "callback",
                "kind": kind,
                "owner": os.getpid(),
                "job": job_of(),
                "i": 0,
                "thread": where,
                "error_callback": error,
                "time": time.time(),
            },
            defer=True,
        )
        return callback(value)

    return ran_here


def patch_pool(module, channel) -> None:
    """Hook ``multiprocessing.pool``: the worker loop, Pool creation, apply_async and map."""
    worker = module.worker
    mapstars = (module.mapstar, module.starmapstar)

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
        channel.send(
            {
                "t": "task",
                "ev": "start",
                "kind": "pool",
                "owner": owner_pid(),
                "job": job,
                "i": i,
                "func": func_name(func),
                "args": call_text(args, kwds),  # of its (first) call, for the tooltip
                "n": n,
                "time": time.time(),
            },
            # sent before the task runs, not deferred: a worker killed in its task must have said
            # which task it took, or the task could not be named lost (issue 20's lost_task)
        )

    def ended(item):
        if not (isinstance(item, tuple) and len(item) == 3):
            return
        job, i, (ok, value) = item
        channel.send(
            {
                "t": "task",
                "ev": "end",
                "kind": "pool",
                "owner": owner_pid(),
                "job": job,
                "i": i,
                "ok": ok,
                "error": None if ok else failure_text(value),
                "time": time.time(),
            },
        )  # not deferred: written (with the start before it) before the parent can have the result

    @functools.wraps(worker)
    def tapped_worker(inqueue, outqueue, *args, **kwargs):
        return worker(QueueTap(inqueue, on_get=started), QueueTap(outqueue, on_put=ended), *args, **kwargs)

    module.worker = tapped_worker
    pool_class = module.Pool
    init, repopulate = pool_class.__init__, pool_class._repopulate_pool
    apply_async, map_async = pool_class.apply_async, pool_class._map_async

    @functools.wraps(repopulate)
    def wrapped_repopulate(self):
        result = repopulate(self)
        pids = [p.pid for p in self._pool if p.pid is not None]
        channel.send({"t": "pool", "label": labels.get(self, "Pool"), "pids": pids})
        return result

    def queued(self, job, count, func):
        now = time.time()
        for i in range(count):
            channel.send(
                {
                    "t": "task",
                    "ev": "queued",
                    "kind": "pool",
                    "owner": os.getpid(),
                    "job": job,
                    "i": i,
                    "pool": labels.get(self, "Pool"),
                    "func": func_name(func),
                    "time": now,
                },
                defer=True,
            )

    def reported(callback, error_callback):
        """The two callbacks, reporting where they ran; the job id goes in the box once known."""
        box = []

        def job_of():
            return box[0]

        return (
            box,
            _wrap_callback(channel, "pool", job_of, callback, False),
            _wrap_callback(channel, "pool", job_of, error_callback, True),
        )

    @functools.wraps(apply_async)
    def wrapped_apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):  # noqa: B006
        box, on_result, on_error = reported(callback, error_callback)
        result = apply_async(self, func, args, kwds, on_result, on_error)
        box.append(result._job)
        queued(self, result._job, 1, func)
        return result

    @functools.wraps(map_async)
    def wrapped_map_async(self, func, iterable, mapper, chunksize=None, callback=None, error_callback=None):
        box, on_result, on_error = reported(callback, error_callback)
        result = map_async(self, func, iterable, mapper, chunksize, on_result, on_error)
        box.append(result._job)
        length, size = len(result._value or ()), result._chunksize or 1
        queued(self, result._job, -(-length // size), func)
        return result

    pool_class.__init__, pool_class._repopulate_pool = labelling(init, "Pool"), wrapped_repopulate
    pool_class.apply_async, pool_class._map_async = wrapped_apply_async, wrapped_map_async
