"""Merger of the program's own Conditions (``mpscope_agent/native_condition.py``).

The value takes the Manager Condition's shape (docs/objects.md, ``ConditionReplica``):
``initial`` and ``available`` of its lock, ``holders`` (``{pid, since, depth}``, sampled
in each process; one that ended holding it stays, a dead holder) and ``waiters`` (the
live processes whose wait names it: in ``wait()``, or waiting to acquire its lock).
"""

from __future__ import annotations

from .objects import merger


@merger("Condition")
def merge_condition(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    waiters = sorted(pid for pid in blocked if pid not in ended)
    in_wait = {pid for pid, wait in blocked.items() if wait.get("call") == "wait"}
    holders = [  # wait() released the lock: a holding told before it is out of date
        {"pid": pid, "since": f.get("since"), "depth": f["depth"]}
        for pid, f in sorted(facts.items())
        if isinstance(f.get("depth"), int) and f["depth"] > 0 and pid not in in_wait
    ]
    return {"initial": 1, "available": max(0, 1 - len(holders)), "holders": holders, "waiters": waiters}
