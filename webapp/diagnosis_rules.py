"""The rules of the diagnoses: plain functions of what the dashboard knows, one per hang.

Each takes the process table's rows (with each process's ``waiting``), the lock-like
objects' holders and waiters, the pool tasks or the stderr lines kept as evidence, and
returns the diagnoses it proves, ``{"id", "kind", "title", "text", "pids", "objects"}``
(:class:`webapp.diagnoses.Diagnoses` adds ``since``). The Pipe and Barrier rules live in
their own modules.
"""

from __future__ import annotations

import time

from .barrier_diagnosis import barriers_short
from .diagnoses_pipes import with_pipe_hangs
from .locks import find_deadlocks

GUIDE = "https://docs.python.org/3/library/multiprocessing.html#programming-guidelines"


# -- the rules: plain functions of what is known ------------------------------------------
def compute(
    workers: list[dict],
    locks: list[dict],
    held: list[dict],
    tasks: list[dict],
    evidence: dict,
    labels: dict[str, str | None] | None = None,
    barriers: list[tuple[str, str, dict]] = (),
    pipes: list[tuple[str, str, dict]] = (),
) -> list[dict]:
    """Every diagnosis that holds for these processes, single-holder ``locks`` (the lock table's
    shape), lock-like objects ``held`` (object, kind, holder pid), pool tasks and stderr lines;
    ``labels`` name objects by their label (``a = mp.Lock()  · prog.py:7`` reads ``a``); ``barriers``
    and ``pipes``: the objects of those kinds as ``(id, kind, value)``."""
    by_pid = {w["pid"]: w for w in workers}
    live = {pid for pid, w in by_pid.items() if w["ended_at"] is None}
    named = {oid: _short(oid, (labels or {}).get(oid)) for oid in (labels or {})}
    out: list[dict] = []
    out += _deadlocks(locks, named)
    out += _dead_holders(held, by_pid, live, named)
    out += _queue_joins(by_pid, live, named)
    out += _no_writers(by_pid, live, named)
    out = with_pipe_hangs(out, by_pid, live, list(pipes), labels or {}, _name)
    out += _lost_tasks(tasks, by_pid)
    out += barriers_short(list(barriers), by_pid, live, named)
    out += _from_stderr(evidence, by_pid)
    return out


def _name(pid: int, by_pid: dict) -> str:
    w = by_pid.get(pid)
    who = (w.get("task") or w.get("name")) if w else None
    return f"{who} (PID {pid})" if who and who != "?" else f"PID {pid}"


def _short(oid: str, label: str | None) -> str:
    """What a person calls an object: ``a`` for ``a = mp.Lock()  · prog.py:7``, else its id."""
    if label and " = " in label:
        name = label.split(" = ", 1)[0].strip()
        if name.isidentifier():
            return name
    return oid


def _deadlocks(locks: list[dict], named: dict[str, str]) -> list[dict]:
    out = []
    for cycle in find_deadlocks(locks):
        pids, names = cycle["pids"], [named.get(oid, oid) for oid in cycle["locks"]]
        steps = ", ".join(
            f"PID {pid} waits for {names[i]} held by PID {pids[(i + 1) % len(pids)]}"
            for i, pid in enumerate(pids)
        )
        out.append(
            {
                "id": "deadlock:" + ",".join(map(str, sorted(pids))),
                "kind": "deadlock",
                "title": "Deadlock",
                "text": f"{steps}: none of them can go on. Fix: take locks in one fixed order everywhere, "
                "or acquire with a timeout. " + GUIDE,
                "pids": pids,
                "objects": cycle["locks"],
            }
        )
    return out


def _dead_holders(held: list[dict], by_pid: dict, live: set[int], named: dict[str, str]) -> list[dict]:
    out = []
    for item in held:
        pid = item["pid"]
        if pid in live or pid not in by_pid:
            continue  # alive, or not a process we know (then we cannot tell)
        what = named.get(item["object"], item["object"])
        out.append(
            {
                "id": f"dead_holder:{item['object']}:{pid}",
                "kind": "dead_holder",
                "title": f"A {item['kind']} is held by a process that died",
                "text": f"{_name(pid, by_pid)} ended while holding {what}: it is never released, "
                "and whoever waits for it waits for good. Release it from its panel if what it guarded "
                "is consistent; in the program, hold locks in `with` blocks and let nothing kill a holder.",
                "pids": [pid],
                "objects": [item["object"]],
            }
        )
    return out


def _queue_joins(by_pid: dict, live: set[int], named: dict[str, str]) -> list[dict]:
    out = []
    for pid in live:
        waiting = by_pid[pid].get("waiting") or {}
        target = waiting.get("pid")
        if waiting.get("call") != "join" or target not in live:
            continue
        flush = by_pid[target].get("waiting") or {}
        if flush.get("call") != "exit_flush":
            continue
        queue = flush.get("oid")  # the program's own Queue whose feeder holds the child's exit
        what = _named(queue, named) or flush.get("object")
        out.append(
            {
                "id": f"queue_join:{pid}:{target}",
                "kind": "queue_join",
                "title": "Joined a process that cannot exit until its queued items are read",
                "text": f"{_name(pid, by_pid)} waits in join() at {waiting.get('where')} for "
                f"{_name(target, by_pid)}, which put items on {what or 'a Queue'} and cannot exit "
                "until they are read; nobody reads them while the parent waits. Fix: get() the items "
                "before join(). " + GUIDE,
                "pids": [pid, target],
                "objects": [o for o in (waiting.get("object"), queue) if o],
            }
        )
    return out


def _no_writers(by_pid: dict, live: set[int], named: dict[str, str]) -> list[dict]:
    """A get() or recv() that nobody can satisfy: every other live process of the program waits
    for this one to end (joins it), so none of them will ever put or send."""
    out = []
    for pid in live:
        waiting = by_pid[pid].get("waiting") or {}
        if waiting.get("call") not in ("get", "recv", "recv_bytes"):
            continue
        others = [
            p
            for p in live
            if p != pid
            and by_pid[p].get("role") not in ("manager", "worker", "lab")
            and by_pid[p].get("name") != "resource_tracker"  # multiprocessing's own helper (spawn)
        ]
        joiners = [p for p in others if (by_pid[p].get("waiting") or {}).get("call") == "join"]
        if not others or len(joiners) != len(others):
            continue
        if any((by_pid[p].get("waiting") or {}).get("pid") != pid for p in joiners):
            continue
        what = _named(waiting.get("oid"), named) or waiting.get("object") or "its queue"
        out.append(
            {
                "id": f"no_writer:{pid}",
                "kind": "no_writer",
                "title": f"{waiting['call']}() that nothing can satisfy",
                "text": f"{_name(pid, by_pid)} waits in {waiting['call']}() on {what} at "
                f"{waiting.get('where')}, and every other process "
                f"({', '.join(_name(p, by_pid) for p in joiners)}) waits in join() "
                "for it to end: nobody will ever put or send. Fix: send what it waits for (or a sentinel "
                "that tells it to stop) before join(). " + GUIDE,
                "pids": [pid, *joiners],
                "objects": [waiting.get("oid") or what],
            }
        )
    return out


def _named(oid: str | None, named: dict[str, str]) -> str | None:
    """The name a followed object (a native Queue) was bound to, if its label tells one."""
    name = named.get(oid) if oid else None
    return name if name and name != oid else None


def _lost_tasks(tasks: list[dict], by_pid: dict) -> list[dict]:
    out = []
    for task in tasks:
        if task.get("state") != "lost":
            continue
        pid, owner = task.get("pid"), task.get("owner")
        worker = by_pid.get(pid, {})
        known = worker.get("signal") or worker.get("exitcode") is not None
        if not known and time.time() - (worker.get("ended_at") or 0) < 1.0:
            continue  # how it ended is still coming (a terminate()d pool's SIGTERM: cancelled, not lost)
        how = f"killed by {worker['signal']}" if worker.get("signal") else "ended"
        out.append(
            {
                "id": f"lost_task:{task['id']}",
                "kind": "lost_task",
                "title": "A pool task was lost with its worker",
                "text": f"Pool worker PID {pid} {how} while running {task.get('func') or 'a task'} "
                f"(job {task.get('job')}, chunk {task.get('chunk')}). The pool replaces the worker but "
                f"never re-runs the task: map()/join() in {_name(owner, by_pid)} will wait for ever. "
                "Fix: find what killed it (memory? a signal?); concurrent.futures.ProcessPoolExecutor "
                "raises BrokenProcessPool instead of waiting.",
                "pids": [p for p in (pid, owner) if p is not None],
                "objects": [task["id"]],
            }
        )
    return out


def _from_stderr(evidence: dict, by_pid: dict) -> list[dict]:
    out = []
    for pid in evidence.get("main_guard", {}):
        out.append(
            {
                "id": f"main_guard:{pid}",
                "kind": "main_guard",
                "title": 'The main module lacks if __name__ == "__main__":',
                "text": f"{_name(pid, by_pid)} failed as it started: a spawn or forkserver child imports the "
                "main module, which started processes again at import. Fix: put the code that starts "
                'processes under `if __name__ == "__main__":`. ' + GUIDE,
                "pids": [pid],
                "objects": [],
            }
        )
    for pid, line in evidence.get("unpicklable", {}).items():
        out.append(
            {
                "id": f"unpicklable:{pid}",
                "kind": "unpicklable",
                "title": "Something could not be pickled",
                "text": f"{_name(pid, by_pid)}: {line} — a task, result or argument crosses between "
                "processes pickled: lambdas, local functions, open files, locks and sockets cannot. "
                "Fix: pass module-level functions and plain data. " + GUIDE,
                "pids": [pid],
                "objects": [],
            }
        )
    return out
