"""The program's own Queue, SimpleQueue and JoinableQueue: every process's counts, one value.

Each process says what it put, got and (JoinableQueue) marked done on the queue, the short
reprs of the last objects it put with when it saw them, the queue's ``maxsize``, and, when
its exit waits for the queue's feeder thread, how much is still to be written
(``mpscope_agent/native_queues.py``). The value keeps the Manager Queue's shape where it
fits (``items``, ``maxsize``, ``unfinished``, ``blocked``; docs/objects.md): ``items`` are
the last items put (the agent cannot see which are still in the pipe), with ``putters``.
"""

from __future__ import annotations

from .objects import merger

RECENT = 5
MAX_REPR = 80


@merger("Queue", "SimpleQueue", "JoinableQueue")
def merge_queue(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    """One queue's value from every process's ``facts``, its waiters and the PIDs that ended."""
    by, recent, flushing, maxsize = {}, [], [], 0
    put = got = done = 0
    for pid, said in sorted(facts.items()):
        mine = {"put": _count(said.get("put")), "got": _count(said.get("got"))}
        by[str(pid)] = mine
        put, got, done = put + mine["put"], got + mine["got"], done + _count(said.get("done"))
        maxsize = max(maxsize, _count(said.get("maxsize")))
        for i, entry in enumerate((said.get("recent") or [])[-RECENT:]):
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], (int, float)):
                recent.append((entry[0], pid, i, str(entry[1])[:MAX_REPR]))  # one look's items in order
        flush = said.get("flushing")
        if isinstance(flush, dict) and pid not in ended:
            flushing.append(
                {"pid": pid, "items": _count(flush.get("items")), "bytes": _count(flush.get("bytes"))}
            )
    recent = sorted(recent)[-RECENT:]
    waiting = [
        {"pid": pid, "call": wait.get("call"), "since": wait.get("since"), "text": wait.get("text")}
        for pid, wait in sorted(blocked.items())
        if wait.get("call") != "exit_flush"  # that is "flushing", not a wait in a call of the queue
    ]
    return {
        "items": [{"$type": "repr", "repr": text} for *_, text in recent],
        "putters": [pid for _, pid, *_ in recent],
        "maxsize": maxsize,
        "unfinished": max(0, put - done) if _joinable(facts) else 0,
        "blocked": waiting,
        "put": put,
        "got": got,
        "depth": max(0, put - got),
        "by": by,
        "flushing": flushing,
    }


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _joinable(facts: dict[int, dict]) -> bool:
    return any("done" in said for said in facts.values())
