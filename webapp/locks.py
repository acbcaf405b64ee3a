"""Who holds which shared lock, who waits for it, and which waits form a deadlock cycle."""

from __future__ import annotations

from collections.abc import Callable

from sharedstate.kinds.locks import named_lock_name


def find_deadlocks(locks: list[dict]) -> list[dict]:
    """Return each cycle in the waits-for graph as ``{"pids": [...], "locks": [...]}``.

    A waiter waits for the holder of the lock it wants. A PID waits for one lock at a
    time, so each PID has at most one outgoing edge and cycles are simple to follow.
    """
    waits_for: dict[int, tuple[int, str]] = {}
    for lock in locks:
        holder = lock["holder_pid"]
        if holder is None:
            continue
        for waiter in lock["waiters"]:
            waits_for[waiter] = (holder, lock["name"])
    cycles, seen = [], set()
    for start in waits_for:
        path, names, pid = [], [], start
        while pid in waits_for and pid not in path and pid not in seen:
            path.append(pid)
            pid, name = waits_for[pid]
            names.append(name)
        if pid in path:  # came back round: the part of the path from pid on is a cycle
            i = path.index(pid)
            cycles.append({"pids": path[i:], "locks": names[i:]})
        seen.update(path)
    return cycles


def single_holder_locks(objects: list[tuple[str, str, dict]]) -> list[dict]:
    """Lock and RLock objects (not the named locks) in the lock table's shape, by id."""
    out = []
    for oid, kind, value in objects:
        if kind in ("Lock", "RLock") and named_lock_name(oid) is None:
            holder = value["holders"][0]["pid"] if value["holders"] else None
            out.append({"name": oid, "holder_pid": holder, "waiters": value["waiters"]})
    return out


def describe_locks(
    locks: list[dict], is_alive: Callable[[int], bool], others: list[dict] | None = None
) -> dict:
    """Return the lock table with each holder's liveness, plus the deadlock cycles.

    ``others`` are further single-holder locks (Lock and RLock objects) that take part in
    the cycles but are not listed in the table: a worker can wait on either kind.
    """
    table = []
    for lock in locks:
        holder = lock["holder_pid"]
        table.append({**lock, "holder_alive": None if holder is None else is_alive(holder)})
    return {"locks": table, "deadlocks": find_deadlocks(locks + (others or []))}
