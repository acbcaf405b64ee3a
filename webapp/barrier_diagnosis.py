"""The ``barrier_short`` diagnosis: a Barrier that waits for more parties than can still come.

A Barrier of ``parties`` passes once that many processes wait at it. Those waiting now
are known (a Manager Barrier's value, or the waits that name one of the program's own
Barriers); who else could still arrive is every live process of the program that is not
at the barrier and not blocked in ``join()`` (a process that joins waits for another to
end: it will not arrive first). It is certain only while no such process runs at all —
a running one might still start the processes the barrier waits for.
"""

from __future__ import annotations

GUIDE = "https://docs.python.org/3/library/multiprocessing.html#programming-guidelines"
NOT_PARTIES = ("manager", "resource_tracker", "forkserver")  # they never wait at a program's barrier


def barriers_short(
    barriers: list[tuple[str, str, dict]], by_pid: dict, live: set[int], named: dict
) -> list[dict]:
    """``barrier_short`` for each Barrier (``(id, kind, value)``) whose missing parties cannot come."""
    out = []
    for oid, _kind, value in barriers:
        if value.get("broken") or not isinstance(value.get("parties"), int):
            continue
        waiting = [pid for pid in value.get("waiting") or [] if pid in live]
        missing = value["parties"] - len(waiting)
        if not waiting or missing <= 0:
            continue
        others = [
            pid
            for pid in live
            if pid not in waiting
            and by_pid[pid].get("role") not in NOT_PARTIES
            and by_pid[pid].get("name") not in NOT_PARTIES
        ]
        if any(not by_pid[pid].get("waiting") for pid in others):
            continue  # one of them runs: it may still come, or start those that will
        could_come = [pid for pid in others if (by_pid[pid].get("waiting") or {}).get("call") != "join"]
        if len(could_come) >= missing:
            continue
        what = named.get(oid, oid)
        parties = value["parties"]
        if could_come:
            plural = "es" if len(could_come) != 1 else ""
            rest = f"only {len(could_come)} other live process{plural} could still come"
        else:
            rest = "no other live process can still come"
        text = (
            f"{len(waiting)} of the {parties} parties wait at {what} "
            f"({', '.join(f'PID {pid}' for pid in waiting)}), and {rest}: the barrier never passes. "
            "Fix: make Barrier(n) with n the number of processes that really call wait() (count the "
            "ones you start), or give wait() a timeout. " + GUIDE
        )
        out.append(
            {
                "id": f"barrier_short:{oid}",
                "kind": "barrier_short",
                "title": "A Barrier waits for more parties than can come",
                "text": text,
                "pids": waiting,
                "objects": [oid],
            }
        )
    return out
