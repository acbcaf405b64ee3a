"""Worker functions for the bare-multiprocessing baselines (imported in child processes).

Kept tiny on purpose: a forkserver child imports this module before it runs, and a heavy
import would make the baselines look slower than they are.
"""

from __future__ import annotations

import multiprocessing.managers  # noqa: F401 -- so the forkserver preloads it, as mpscope's does
import os
import time
from array import array

from workers.tasks import burst


def timed_burst(d, l, go, done, n, rate, keys, target):  # noqa: E741
    """Say ready, wait for ``go``, run the ``burst`` task mpscope workers run, report (start, end)."""
    done.put(None)
    go.wait()
    start = time.time()
    burst(d, l, n=n, rate=rate, keys=keys, target=target)
    done.put((start, time.time()))


def stamped_burst(d, n, rate, keys, path):
    """``burst``'s dict writes, recording when each one returned (the polling baseline's "t")."""
    pid = os.getpid()
    stamps = array("d")
    start = time.monotonic()
    for i in range(n):
        d[f"{pid}:{i % keys}"] = i
        stamps.append(time.time())
        if rate:
            ahead = start + (i + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    with open(os.path.join(path, f"{pid}.stamps"), "wb") as f:
        stamps.tofile(f)


def append_pid(l, stop):  # noqa: E741
    """What mpscope's ``append_pid`` task does: put our PID in the shared list, then live on."""
    l.append(os.getpid())
    stop.wait()


def spawn_and_append(ctx, l, count: int) -> float:  # noqa: E741
    """Start ``count`` processes that append their PID to ``l``; seconds until all did."""
    del l[:]
    stop = ctx.Event()
    t0 = time.time()
    procs = [ctx.Process(target=append_pid, args=(l, stop)) for _ in range(count)]
    for p in procs:
        p.start()
    while len(l) < count:
        time.sleep(0.002)
    elapsed = time.time() - t0
    stop.set()  # like mpscope's workers, they run until the measurement is over
    for p in procs:
        p.join()
    return elapsed


def print_to_file(path: str, lines: int, line_buffered: bool) -> None:
    """Run the ``printer`` task with stdout going to a file (the output baseline)."""
    import sys

    from workers.tasks import printer

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.close(fd)
    with open(1, "w", buffering=1 if line_buffered else -1, closefd=False) as sys.stdout:
        printer(None, None, lines=lines, interval=0.0)
