"""Mergers of the program's own Barriers and Events (``mpscope_agent/native_sync.py``).

The values take the Manager kinds' shapes (docs/objects.md): a Barrier's ``parties``,
``waiting`` (the processes whose wait names it), ``broken`` and ``passed``; an Event's
``set`` and ``waiters``. What is shared (broken, set) is read by every process: the
latest process to tell it is believed.
"""

from __future__ import annotations

from .objects import merger


def _waiting(blocked: dict[int, dict], ended: set[int]) -> list[int]:
    return sorted(pid for pid, wait in blocked.items() if pid not in ended and wait.get("call") == "wait")


@merger("Barrier")
def merge_barrier(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    latest = next(reversed(facts.values()), {})
    parties = latest.get("parties") if isinstance(latest.get("parties"), int) else 0
    passes = sum(f.get("passes", 0) for f in facts.values() if isinstance(f.get("passes"), int))
    return {
        "parties": parties,
        "waiting": _waiting(blocked, ended),
        "broken": bool(latest.get("broken")),
        "passed": passes // parties if parties else 0,  # every party's wait() returns once a pass
    }


@merger("Event")
def merge_event(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    latest = next(reversed(facts.values()), {})
    return {"set": bool(latest.get("set")), "waiters": _waiting(blocked, ended)}
