"""ProcessPoolExecutor hooks: each task submitted, started in a worker, ended, as for a Pool.

Work ids are numbered per executor, so two executors of one process that run at the
same time may mix their tasks in the table (a Pool's job numbers are unique).
"""

from __future__ import annotations

import functools
import time

from .pool_hooks import EventBatch, QueueTap, TaskReporter, failure_text, func_name, labelling, labels
from .task_args import call_text


def tap_worker_loop(module, channel, kind: str, describe) -> None:
    """Wrap ``module._process_worker`` (concurrent.futures' loop, or loky's copy of it) so that
    each call item a worker takes is a task ``start`` and each result it puts an ``end`` (see
    :class:`~.pool_hooks.TaskReporter`); ``describe(item)`` gives the task's ``(function
    name, number of calls)``."""
    worker = module._process_worker

    reporter = TaskReporter(channel, kind)

    def started(item):
        if not hasattr(item, "work_id"):
            return  # None: the sentinel that stops the worker
        func, n = describe(item)
        # the args: of its (first) call, for the tooltip
        reporter.start(item.work_id, 0, func, _call_args(module, item), n)

    def ended(item):
        if not hasattr(item, "work_id"):
            return  # a worker's PID (it stops) or a traceback of its own failure
        error = getattr(item, "exception", None)
        reporter.end(item.work_id, 0, error is None, None if error is None else failure_text(error))

    @functools.wraps(worker)
    def tapped_worker(call_queue, result_queue, *args, **kwargs):
        return worker(
            QueueTap(call_queue, on_get=started), QueueTap(result_queue, on_put=ended), *args, **kwargs
        )

    module._process_worker = tapped_worker


def patch_executor(module, channel) -> None:
    """Hook ``concurrent.futures.process``: the worker loop, process spawns and submit."""
    tap_worker_loop(module, channel, "executor", lambda item: (_executor_func(module, item.fn, item.args), 1))
    executor = module.ProcessPoolExecutor
    init, spawn, submit = executor.__init__, executor._spawn_process, executor.submit

    @functools.wraps(spawn)
    def wrapped_spawn(self):
        spawn(self)
        channel.send(
            {"t": "pool", "label": labels.get(self, "ProcessPoolExecutor"), "pids": list(self._processes)}
        )

    queued = EventBatch(channel, "queued", "executor", ("pool", "func"))

    @functools.wraps(submit)
    def wrapped_submit(self, fn, /, *args, **kwargs):
        now = time.time()  # before: a worker may take the task before submit returns
        future = submit(self, fn, *args, **kwargs)
        if channel.sock is not None:  # written by the channel's writer, with the others submitted since
            label = labels.get(self, "ProcessPoolExecutor")
            queued.add(label, _executor_func(module, fn, args), self._queue_count - 1, 0, now)
        return future

    executor.__init__ = labelling(init, "ProcessPoolExecutor")
    executor._spawn_process, executor.submit = wrapped_spawn, wrapped_submit


def _call_args(module, item) -> str | None:
    """The text of a call item's arguments; of a map() chunk's first call (its items are
    each call's arguments, a tuple)."""
    fn, args, kwargs = getattr(item, "fn", None), getattr(item, "args", ()), getattr(item, "kwargs", None)
    chunker = getattr(module, "_process_chunk", None)
    if isinstance(fn, functools.partial) and chunker is not None and fn.func is chunker and args:
        chunk = args[0]
        first = chunk[0] if chunk else ()
        return call_text(first if type(first) is tuple else (first,))
    return call_text(args, kwargs)


def _executor_func(module, fn, args) -> str:
    # executor.map() submits functools.partial(_process_chunk, fn) over chunks of arguments
    if isinstance(fn, functools.partial) and fn.func is module._process_chunk and fn.args:
        return func_name(fn.args[0])
    return func_name(fn)
