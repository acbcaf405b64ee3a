"""loky hooks (joblib's default backend): its workers are watched, and their tasks are on the timeline.

loky (vendored in joblib as ``joblib.externals.loky``) forks concurrent.futures' process
pool and starts its workers its own way: ``python -m ...popen_loky_posix``, exec'd with an
environment built from ``os.environ``. The agent hid its variables from ``os.environ``, so
without :func:`patch_fork_exec` a loky worker ran unwatched. Once watched, its
``_process_worker`` is tapped as :mod:`executor_hooks` taps the stdlib's: the call item it
takes (a task starts) and the result it puts (the task ended). The parent reports each
task when ``submit`` queues its work id, and the pool's members when workers are started.

A joblib batch (``BatchedCalls``) is named by its first function, with its number of
items. Nothing here imports loky or joblib: the patches run when the program imports them.
"""

from __future__ import annotations

import functools
import os
import time

from . import ENV_DIR, ENV_ERR, ENV_OUT, ENV_PYTHONPATH, ENV_TTY, stdio
from .executor_hooks import tap_worker_loop
from .pool_hooks import (
    QueueTap,
    counter,
    creation_site,
    func_name,
    joblib_batch,
    labels,
)

KIND = "loky"
_saved: dict[str, str] = {}  # our variables as the C environment had them when the agent hid them


def remember_env(environ: dict[str, str]) -> None:
    """Keep our variables (and PYTHONPATH with our boot directory) before they leave ``os.environ``."""
    for name in (ENV_DIR, ENV_PYTHONPATH, ENV_OUT, ENV_ERR, ENV_TTY, "PYTHONPATH"):
        if name in environ:
            _saved[name] = environ[name]


def child_env(channel, env: dict | None) -> dict:
    """The environment loky's ``fork_exec`` should give a worker: the program's, plus ours.

    What a spawn child inherits from the C environment: the agent's directory, our boot
    directory first on PYTHONPATH, the pipes this process handed over, whether mpscope
    writes to a terminal; never the main-process marker.
    """
    env = dict(env or {})
    if ENV_DIR not in _saved:
        return env  # not watched
    theirs = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    boot = _saved.get("PYTHONPATH", "").split(os.pathsep)[0]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (boot, theirs) if p)
    env[ENV_PYTHONPATH] = theirs
    env[ENV_DIR] = _saved[ENV_DIR]
    env[ENV_TTY] = "1" if stdio._state["terminal"] else "0"
    for fd, name in ((1, ENV_OUT), (2, ENV_ERR)):
        identity = channel.pipes.get(fd) if channel is not None else None
        if identity is not None:
            env[name] = "{}:{}".format(*identity)
        elif name in _saved:
            env[name] = _saved[name]
    return env


def patch_fork_exec(module, channel) -> None:
    """Hook ``loky.backend.fork_exec``: the worker it execs inherits the agent's variables."""
    fork_exec = module.fork_exec

    @functools.wraps(fork_exec)
    def watched_fork_exec(cmd, keep_fds, env=None):
        return fork_exec(cmd, keep_fds, env=child_env(channel, env))

    module.fork_exec = watched_fork_exec


def batch_of(fn, args=()) -> tuple[str, int]:
    """The task's function name and its number of items (a joblib batch holds several calls)."""
    fn = getattr(fn, "__wrapped__", fn)
    if (
        isinstance(fn, functools.partial)
        and getattr(fn.func, "__name__", None) == "_process_chunk"
        and fn.args
    ):
        # executor.map() submits partial(_process_chunk, fn) over chunks of arguments
        chunk = args[0] if args else ()
        return func_name(fn.args[0]), len(chunk) if isinstance(chunk, (list, tuple)) else 1
    return joblib_batch(fn) or (func_name(fn), 1)


def patch_process_executor(module, channel) -> None:
    """Hook ``loky.process_executor``: the worker loop, worker starts, and each submitted work id."""
    tap_worker_loop(module, channel, KIND, lambda item: batch_of(item.fn, item.args))
    executor = module.ProcessPoolExecutor
    init, adjust = executor.__init__, executor._adjust_process_count

    @functools.wraps(init)
    def wrapped_init(self, *args, **kwargs):
        label = labels[self] = f"loky-{next(counter)} ({creation_site()})"
        init(self, *args, **kwargs)
        # submit() puts each work id on this queue, under its lock, right after it filed the
        # work item: the id and the function, exactly, whichever thread submits
        self._work_ids = QueueTap(self._work_ids, on_put=lambda work_id: queued(self, label, work_id))

    def queued(self, label, work_id):
        item = self._pending_work_items.get(work_id)
        func, _n = batch_of(getattr(item, "fn", None), getattr(item, "args", ()))
        channel.send(
            {
                "t": "task",
                "ev": "queued",
                "kind": KIND,
                "owner": os.getpid(),
                "job": work_id,
                "i": 0,
                "pool": label,
                "func": func,
                "time": time.time(),
            },
            defer=True,
        )

    @functools.wraps(adjust)
    def wrapped_adjust(self, *args, **kwargs):
        result = adjust(self, *args, **kwargs)
        channel.send({"t": "pool", "label": labels.get(self, "loky"), "pids": list(self._processes)})
        return result

    executor.__init__, executor._adjust_process_count = wrapped_init, wrapped_adjust


def patches(channel) -> dict:
    """The PatchOnImport entries: joblib's vendored loky and loky itself."""
    found = {}
    for package in ("joblib.externals.loky", "loky"):
        found[f"{package}.backend.fork_exec"] = lambda m: patch_fork_exec(m, channel)
        found[f"{package}.process_executor"] = lambda m: patch_process_executor(m, channel)
    return found
