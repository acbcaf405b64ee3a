"""Golden fixtures for the two replayers of ``snapshot`` + ``changes``: Python's
(``sharedstate/replica.py``) and the page's (``static/js/objects.js`` with the kind modules
in ``static/js/kinds/``). ``tests/test_replay_fixtures.py`` holds both to them.

Each fixture is recorded from a real recording Manager: its objects are changed through
their ordinary proxies, by this process, its threads and child processes (so that writers,
holders and waiters have different PIDs), and the server's mirror replays the journal as
the dashboard does. A fixture keeps what a page receives -- a ``snapshot`` (``version`` and
``objects``) taken part-way, then every ``changes`` batch after it -- with ``after`` (every
object after each batch, as the mirror replayed them) and ``expected`` (the version and
every object at the end). Before writing, each is
checked against the Manager's own snapshot (all but the ``since`` stamps of holds and
blocked calls, which the Manager takes a few microseconds before the op's ``t``, which
replayers use).

Regenerate (the PIDs and times change, nothing else should)::

    .venv/bin/python tests/replay_fixtures.py
"""

from __future__ import annotations

import array
import contextlib
import json
import multiprocessing
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "replay"


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def load_fixture(path: Path) -> dict:
    return json.loads(path.read_text())


# -- recording ----------------------------------------------------------------------------
def comparable(value: Any) -> Any:
    """An encoded value without the ``since`` stamps of holds and blocked calls (see the module's docstring).

    The Manager stamps a hold when it takes it, the op carries the time it was journalled a
    few microseconds later; everything else must be equal.
    """
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "since"}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


class Recorder:
    """Follows a Manager's journal as the server does, and keeps what a page would receive."""

    def __init__(self, manager: Any) -> None:
        from webapp.mirror import SharedStateMirror

        self.journal = manager.journal()
        self.mirror = SharedStateMirror()
        self.mirror.load(*self.journal.snapshot())
        self.snapshot: dict | None = None
        self.batches: list[dict] = []
        self.after: list[dict] = []  # every object after each batch

    def catch_up(self) -> list[dict]:
        """Replay what the journal holds now; after the snapshot, keep it as one ``changes`` batch."""
        status, entries = self.journal.read(self.mirror.version, 0, 10**6)
        assert status == "ok", status
        before = self.mirror.version
        ops = self.mirror.apply(entries)
        if ops and self.snapshot is not None:
            self.batches.append({"from": before, "to": ops[-1]["seq"], "ops": ops})
            self.after.append(json.loads(json.dumps(self.mirror.snapshot()["objects"])))
        return ops

    def take_snapshot(self) -> None:
        self.catch_up()
        snap = self.mirror.snapshot()
        self.snapshot = {"version": snap["version"], "objects": snap["objects"]}

    def until(self, what: str, predicate: Any, timeout: float = 10.0) -> None:
        """Catch up until ``predicate(ops of this catch-up)`` holds (a thread or child got there)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.catch_up()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.journal.read(self.mirror.version, 0.2, 1)

    def until_op(self, oid: str, name: str) -> None:
        self.until(f"{oid} {name}", lambda ops: any(o["object"] == oid and o["op"] == name for o in ops))

    def oid(self, ops: list[dict]) -> str:
        return [op["object"] for op in ops if op["op"] == "create"][-1]

    def made(self) -> str:
        """The id of the object just made."""
        return self.oid(self.catch_up())

    def fixture(self, name: str, about: str) -> dict:
        from webapp.mirror import SharedStateMirror

        self.catch_up()
        truth = SharedStateMirror()
        truth.load(*self.journal.snapshot())
        assert truth.version == self.mirror.version, "the objects changed while recording"
        replayed = self.mirror.snapshot()["objects"]
        for oid, obj in truth.snapshot()["objects"].items():  # (the Manager keeps no writers)
            got = replayed[oid]
            assert (obj["kind"], obj["label"]) == (got["kind"], got["label"]), f"{name}: {oid}"
            assert comparable(obj["value"]) == comparable(got["value"]), f"{name}: the mirror's {oid} differs"
        assert set(replayed) == set(truth.snapshot()["objects"])
        ops = [op["op"] for batch in self.batches for op in batch["ops"]]
        return {
            "name": name,
            "about": about,
            "ops": sorted(set(ops)),
            "snapshot": self.snapshot,
            "changes": self.batches,
            "after": self.after,
            "expected": {"version": self.mirror.version, "objects": replayed},
        }


# -- what child processes do (forkserver: module-level functions) --------------------------
def child_writes(d: Any, l: Any) -> None:  # noqa: E741
    d["child"] = [1, "two", 3.5]
    l.append("from a child")
    l.insert(0, ("tuple", None))


def child_holds(lock: Any, held: Any, go: Any) -> None:
    lock.acquire()
    held.set()
    go.wait(30)
    lock.release()


def child_holds_and_dies(lock: Any, held: Any) -> None:
    lock.acquire()
    held.set()  # and exits holding it: the dashboard releases it on its behalf ("break")


def child_waits(obj: Any, method: str, *args: Any) -> None:
    getattr(obj, method)(*args)


def run_child(ctx: Any, target: Any, *args: Any) -> Any:
    child = ctx.Process(target=target, args=args)
    child.start()
    return child


# -- the scenarios --------------------------------------------------------------------------
def dict_and_list(manager: Any, ctx: Any) -> dict:
    rec = Recorder(manager)
    d, l = manager.named_dict("d"), manager.named_list("l")  # noqa: E741
    d["before"] = "the snapshot"
    l.extend([3, 1, 2])
    rec.take_snapshot()
    d[3] = "int key"
    d[3.0] = "same key"  # the dict keeps the key it has: 3
    d["a"] = {"nested": [1, (2, 3)], "set": {4}}
    d.update({"u": 1}, v=b"bytes")
    d["big"] = 2**60
    del d["before"]
    rec.catch_up()
    child = run_child(ctx, child_writes, d, l)
    child.join(30)
    assert child.exitcode == 0
    d.popitem()
    d.setdefault("s", float("inf"))
    l.append(4)
    l.insert(-1, "before last")
    l[0] = "first"
    del l[1]
    rec.catch_up()
    l.sort(key=str)
    l.reverse()
    l *= 2
    l[::2] = range(len(l[::2]))
    rec.catch_up()
    l.clear()
    l.extend(range(5))
    d.clear()
    d["after"] = None
    d["<b>html</b>"] = "<script>x</script>"
    return rec.fixture("dict_and_list", "the built-in d and l: every dict and list op, writers from two PIDs")


def queues_values_namespaces(manager: Any, ctx: Any) -> dict:
    rec = Recorder(manager)
    q = manager.Queue(maxsize=2)
    qid = rec.made()
    q.put("waiting before the snapshot")
    v = manager.Value("i", 1)
    rec.take_snapshot()
    q.put(("b", 2))
    with contextlib.suppress(queue.Full):
        q.put("c", timeout=0.01)  # blocks, times out: block and unblock
    assert q.get() == "waiting before the snapshot"
    assert q.get() == ("b", 2)
    rec.catch_up()
    getter = run_child(ctx, child_waits, q, "get")  # blocks in get() until an item comes
    rec.until_op(qid, "block")
    q.put("for the child")
    getter.join(30)
    assert getter.exitcode == 0
    jq = manager.JoinableQueue()
    for i in range(3):
        jq.put(i)
    jq.get()
    jq.task_done()
    jq.get()
    v.value = 42
    a = manager.Array("d", [0.5, 1.5, 2.5])
    a[0] = 10.25
    a[-1] = 3
    a[:] = array.array("d", [7.5, 8.5, 9.5])
    rec.catch_up()
    ns = manager.Namespace()
    ns.x = 1
    ns.y = {"k": [1, 2]}
    ns.x = "again"
    del ns.y
    late = manager.list([1, 2])  # made after the snapshot: its "create" carries its value
    late.append(3)
    return rec.fixture(
        "queues_values_namespaces",
        "Queue (blocked put and get), JoinableQueue, Value, Array, Namespace, "
        "and objects made after the snapshot",
    )


def locks_and_sync(manager: Any, ctx: Any) -> dict:
    rec = Recorder(manager)
    lock = manager.Lock()
    lid = rec.made()
    held, go = ctx.Event(), ctx.Event()
    holder = run_child(ctx, child_holds, lock, held, go)  # holds it across the snapshot
    held.wait(30)
    named = manager.named_Lock("lock:demo")
    nid = "lock:demo"
    event = manager.Event()
    rec.take_snapshot()
    waiter = threading.Thread(target=lock.acquire)  # waits for the child's hold
    waiter.start()
    rec.until_op(lid, "wait")
    go.set()
    waiter.join(30)
    holder.join(30)
    lock.release()
    rlock = manager.RLock()
    rlock.acquire()
    rlock.acquire()  # depth 2
    rlock.release()
    rlock.release()
    sem = manager.Semaphore(2)
    sem.acquire()
    sem.acquire()
    assert not sem.acquire(timeout=0.01)  # waits, gives up
    sem.release()
    bsem = manager.BoundedSemaphore(1)
    bsem.acquire()
    bsem.release()
    rec.catch_up()
    # the named lock: held by a child that dies holding it, released on its behalf
    held = ctx.Event()
    dier = run_child(ctx, child_holds_and_dies, named, held)
    held.wait(30)
    dier.join(30)
    rec.catch_up()
    assert rec.journal.break_lock(nid, dier.pid)
    # the Event: a child waits, is woken by set()
    eid = next(o for o in rec.mirror.objects if rec.mirror.objects[o].kind == "Event")
    waiting = run_child(ctx, child_waits, event, "wait", 30)
    rec.until_op(eid, "wait")
    event.set()
    waiting.join(30)
    event.clear()
    # the Condition: a child waits, is notified
    cond = manager.Condition()
    cid = rec.made()
    cond_waiter = threading.Thread(target=condition_wait, args=(cond,))
    cond_waiter.start()
    rec.until_op(cid, "wait")
    with cond:
        cond.notify()
    cond_waiter.join(30)
    rec.catch_up()
    # its lock: held, a child gives up waiting for it. (Not a thread of this process: a
    # Condition's "wait" op means both "waits for the lock" and "entered wait()", told apart
    # by whether the PID holds it, so a second thread of the holder's process replays as the
    # holder entering wait(). Nor a dead holder: the journal's break_lock cannot release a
    # Condition, which has no _force_release.)
    cond.acquire()
    impatient = run_child(ctx, child_waits, cond, "acquire", True, 0.05)
    impatient.join(30)
    cond.release()
    # the Barrier: two pass, one waits alone and leaves at its timeout, then abort and reset
    barrier = manager.Barrier(2)
    bid = rec.made()
    other = run_child(ctx, child_waits, barrier, "wait", 30)
    rec.until_op(bid, "wait")
    barrier.wait(30)
    other.join(30)
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(0.05)
    barrier.reset()
    barrier.abort()
    barrier.reset()
    # a free named lock dropped (as past --max-locks)
    manager.named_Lock("lock:spare")
    rec.catch_up()
    assert rec.journal.forget_lock("lock:spare")
    return rec.fixture(
        "locks_and_sync",
        "Lock (a waiter), RLock depth, Semaphore, BoundedSemaphore, a named lock broken for a dead holder "
        "and one forgotten, Event, Condition (wait, notify, a waiter giving up), Barrier",
    )


def condition_wait(cond: Any) -> None:
    with cond:
        cond.wait(30)


SCENARIOS = (dict_and_list, queues_values_namespaces, locks_and_sync)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from webapp.manager import start_manager

    ctx = multiprocessing.get_context("forkserver")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        manager = start_manager(ctx)
        try:
            fixture = scenario(manager, ctx)
        finally:
            manager.shutdown()
        path = FIXTURES / f"{fixture['name']}.json"
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        batches = len(fixture["changes"])
        print(f"{path.relative_to(ROOT)}: {batches} batches, ops {', '.join(fixture['ops'])}")


if __name__ == "__main__":
    main()
