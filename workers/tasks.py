"""The functions that run inside worker processes: small, and read like the tutorial.

Each task takes the shared dict ``d`` and list ``l`` (Manager proxies) and its params;
tasks that use a shared lock or another shared object (a Queue ``q``, a Barrier ``b``,
an Event ``e``, a Semaphore ``s``) also get its proxy as a keyword argument.
"""

import os
import random
import sys
import time


def append_pid(d, l, interval=1.0):  # noqa: E741 -- `l` is the tutorial's name
    """Append our PID to the list, write our entry in the dict, then tick until stopped."""
    pid = os.getpid()
    l.append(pid)
    d[pid] = {"ppid": os.getppid(), "ticks": 0}
    ticks = 0
    while True:
        time.sleep(interval)
        ticks += 1
        d[pid] = {"ppid": os.getppid(), "ticks": ticks}


def counter(d, l, n=1000, lock=None):  # noqa: E741
    """Increment d["counter"] n times; without a lock, concurrent workers lose updates.

    ``d["counter"] += 1`` through a proxy is a read, then a write: two separate requests
    to the Manager, with room for another process to write in between.
    """
    for _ in range(n):
        if lock is None:
            d["counter"] = d.get("counter", 0) + 1
        else:
            with lock:
                d["counter"] = d.get("counter", 0) + 1


def cpu(d, l, seconds=5.0):  # noqa: E741
    """Spin the CPU for ``seconds``."""
    end = time.monotonic() + seconds
    spins = 0
    while time.monotonic() < end:
        spins += 1
    d[os.getpid()] = {"spins": spins}


def sleep(d, l, seconds=5.0):  # noqa: E741
    """Sleep for ``seconds``, then exit."""
    time.sleep(seconds)


def crash(d, l, seconds=0.5):  # noqa: E741
    """Raise an exception after ``seconds``."""
    time.sleep(seconds)
    raise RuntimeError(f"worker {os.getpid()} crashed on purpose after {seconds}s")


def burst(d, l, n=1000, rate=0.0, keys=100, target="dict"):  # noqa: E741
    """Write ``n`` mutations, ``rate`` per second (0 = as fast as possible)."""
    pid = os.getpid()
    start = time.monotonic()
    for i in range(n):
        if target == "dict":
            d[f"{pid}:{i % keys}"] = i
        else:
            l.append(i)
        if rate:
            ahead = start + (i + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def printer(d, l, lines=10, interval=0.0, stream="stdout"):  # noqa: E741
    """Print ``lines`` numbered lines to stdout, stderr or both."""
    pid = os.getpid()
    for i in range(1, lines + 1):
        if stream in ("stdout", "both"):
            print(f"line {i} from {pid}")
        if stream in ("stderr", "both"):
            print(f"line {i} from {pid} (stderr)", file=sys.stderr)
        if interval:
            time.sleep(interval)


def hold_lock(d, l, lock=None, seconds=5.0):  # noqa: E741
    """Take the shared lock and hold it for ``seconds``."""
    with lock:
        d[os.getpid()] = "holding the lock"
        time.sleep(seconds)


def deadlock(d, l, first=None, second=None, pause=0.5):  # noqa: E741
    """Take ``first``, pause, then take ``second``: two of us with swapped names deadlock."""
    with first:
        time.sleep(pause)
        with second:
            d[os.getpid()] = "got both locks"


class Opaque:
    """A custom object: JSON cannot carry it, so the page shows its repr."""

    def __init__(self):
        self.pid = os.getpid()

    def __repr__(self):
        return f"<Opaque from {self.pid}>"


def odd_values(d, l):  # noqa: E741
    """Write values JSON cannot carry (or should not render as HTML) into d, then exit."""
    d["set"] = {1, 2, 3}
    d["bytes"] = b"\x00\xff"
    d["object"] = Opaque()
    d["nan"] = float("nan")
    d["inf"] = float("inf")
    d["big list"] = list(range(100_000))
    d["html"] = "<img src=x onerror=alert(1)>"
    d["<b>html key</b>"] = "a key is text too"


def _pace(start: float, done: int, rate: float) -> None:
    """Sleep until ``done`` items at ``rate`` per second are due (no sleep for rate 0)."""
    if rate:
        ahead = start + done / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def producer(d, l, q, queue="jobs", n=20, rate=5.0, maxsize=10):  # noqa: E741
    """Put ``n`` items on the shared queue, ``rate`` per second; put() blocks while it is full."""
    pid = os.getpid()
    start = time.monotonic()
    for i in range(n):
        q.put(f"job {i} from {pid}")
        d[pid] = {"put": i + 1}
        _pace(start, i + 1, rate)


def consumer(d, l, q, queue="jobs", n=0, rate=2.0):  # noqa: E741
    """Take items off the shared queue and work on each; get() blocks while it is empty."""
    pid = os.getpid()
    done = 0
    start = time.monotonic()
    while not n or done < n:
        item = q.get()
        d[pid] = {"working on": item, "done": done}
        done += 1
        _pace(start, done, rate)
        q.task_done()
        d[pid] = {"done": done}


def barrier(d, l, b, barrier="meet", parties=3, rounds=3, pause=1.0):  # noqa: E741
    """Work a random while, then wait at the barrier until every party has arrived; repeat."""
    pid = os.getpid()
    for r in range(1, rounds + 1):
        time.sleep(random.uniform(0, pause))
        d[pid] = f"waiting at the barrier (round {r})"
        b.wait()
        d[pid] = f"passed round {r}"


def event_wait(d, l, e, event="go", timeout=60.0):  # noqa: E741
    """Block until another worker sets the event (or the timeout passes)."""
    pid = os.getpid()
    d[pid] = "waiting for the event"
    d[pid] = "the event was set" if e.wait(timeout) else f"gave up after {timeout:g} s"


def event_set(d, l, e, event="go", delay=2.0, clear_after=0.0):  # noqa: E741
    """Set the event after ``delay``; clear it again after ``clear_after`` if that is not 0."""
    time.sleep(delay)
    e.set()
    if clear_after:
        time.sleep(clear_after)
        e.clear()


def semaphore(d, l, s, semaphore="pool", slots=2, seconds=3.0):  # noqa: E741
    """Hold one of the semaphore's slots for ``seconds``: at most ``slots`` workers at once."""
    pid = os.getpid()
    d[pid] = "waiting for a slot"
    with s:
        d[pid] = "inside"
        time.sleep(seconds)
    d[pid] = "done"
