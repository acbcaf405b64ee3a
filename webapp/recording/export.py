"""``mpscope export RUN.sqlite -o trace.json``: a recording as Chrome trace events (Perfetto).

The JSON object form, ``{"traceEvents": [...]}``, timestamps in µs from the recording's
start: a process track per process (``M`` ``process_name`` = ``name (pid)``, ordered
parent first, labelled with its parent), Pool tasks and waits as ``X`` slices, each
Queue's depth and each list's length as ``C`` counters on its Manager's track, a flow
(``s`` → ``f``) from each Queue ``put`` to the ``get`` that took its item, and output lines
as ``i`` instants. docs/recording.md.
"""

from __future__ import annotations

import collections
import json
import sys
from typing import Any

from .reader import RecordingReader

# op that starts a wait on an object -> the ops that end it, per kind family
WAITS = {
    "lock": ("wait", ("acquire", "gave_up")),
    "Condition": ("wait", ("wake", "gave_up")),
    "Event": ("wait", ("wake",)),
    "Barrier": ("wait", ("pass", "leave", "abort", "reset")),
}
LOCKS = {"Lock", "RLock", "Semaphore", "BoundedSemaphore"}
QUEUES = {"Queue", "JoinableQueue"}
TICK = 1.0  # µs: the length of a put or get slice (a flow binds to a slice)


class Trace:
    def __init__(self, start: float) -> None:
        self.start = start
        self.events: list[dict] = []

    def us(self, t: float) -> float:
        return round((t - self.start) * 1e6, 3)

    def add(self, **event: Any) -> None:
        self.events.append(event)

    def slice(self, pid: int, name: str, t0: float, t1: float, cat: str, args: dict | None = None) -> None:
        event = {"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": pid, "ts": self.us(t0)}
        event["dur"] = max(TICK, round((t1 - t0) * 1e6, 3))
        if args:
            event["args"] = args
        self.events.append(event)


def build(reader: RecordingReader) -> dict:
    """The trace of one recording, as a JSON-ready dict."""
    trace = Trace(reader.start)
    processes: dict[int, dict] = {}
    waiting: dict[int, tuple[str, float]] = {}  # pid -> (what, since): the process table's sampled waits
    tasks: dict[str, dict] = {}
    first = reader.state_after(0)
    for info in first.workers.values():
        processes[info["pid"]] = info
    for task in first.pool_tasks.values():
        tasks[task["id"]] = task
    objects = {
        oid: {"kind": o.kind, "label": o.label, "manager": o.manager_pid} for oid, o in first.objects.items()
    }
    sizes: dict[str, int] = {}
    for oid, obj in first.objects.items():
        size = _size(obj.kind, obj.replica.value())
        if size is not None:
            sizes[oid] = size
    queued: dict[str, collections.deque] = collections.defaultdict(collections.deque)  # oid -> flow ids
    open_waits: dict[tuple[str, int], tuple[str, float]] = {}
    blocked: dict[tuple[str, int, str], float] = {}
    flows = 0
    end = reader.end
    for _eid, t, kind, data in reader.all_events():
        if kind == "workers":
            for info in data.get("workers", ()):
                pid = info["pid"]
                processes[pid] = info
                what = info.get("waiting")
                if isinstance(what, dict):  # {"text", "call", "object", "where"}
                    what = what.get("text") or what.get("call")
                was = waiting.get(pid)
                if was is not None and (what is None or what != was[0]):
                    trace.slice(pid, was[0], was[1], t, "wait", {"sampled": True})
                    del waiting[pid]
                if what and pid not in waiting:
                    waiting[pid] = (what, t)
        elif kind == "pool_tasks":
            for task in data.get("tasks", ()):
                tasks[task["id"]] = task
        elif kind == "output":
            for line in data.get("lines", ()):
                if line.get("open"):
                    continue
                text = line.get("rendered") or line.get("text") or ""
                trace.add(
                    ph="i", s="t", name=text[:80] or "(empty line)", cat="output", pid=line["pid"],
                    tid=line["pid"], ts=trace.us(line.get("t", t)),
                    args={"stream": line.get("stream"), "text": text},
                )  # fmt: skip
        elif kind == "changes":
            for op in data.get("ops", ()):
                flows = _op(trace, op, objects, sizes, queued, open_waits, blocked, flows)
    for pid, (what, since) in waiting.items():
        trace.slice(pid, what, since, end, "wait", {"sampled": True, "unfinished": True})
    for (oid, pid), (name, since) in open_waits.items():
        trace.slice(pid, name, since, end, "wait", {"object": oid, "unfinished": True})
    for task in tasks.values():
        if task.get("started_at") is None or task.get("pid") is None:
            continue
        items = task.get("items") or 1
        name = f"{task['func']} ×{items}" if items > 1 else str(task["func"])
        args = {"pool": task.get("pool"), "state": task.get("state"), "items": items, "id": task["id"]}
        if task.get("queued_at") is not None:
            args["waited_s"] = round(task["started_at"] - task["queued_at"], 6)
        if task.get("error"):
            args["error"] = task["error"]
        trace.slice(task["pid"], name, task["started_at"], task.get("ended_at") or end, "pool task", args)
    _processes(trace, processes)
    meta = reader.meta
    return {
        "traceEvents": trace.events,
        "displayTimeUnit": "ms",
        "otherData": {
            "source": "mpscope",
            "recording": str(reader.path.name),
            "argv": json.dumps(meta.get("argv")),
            "started_at": str(reader.start),
        },
    }


def _op(trace, op, objects, sizes, queued, open_waits, blocked, flows) -> int:
    oid, name, kind = op.get("object"), op.get("op"), op.get("kind")
    pid, t = op.get("pid"), op.get("t", trace.start)
    if name == "create":
        objects[oid] = {"kind": kind, "label": op.get("label"), "manager": op.get("manager_pid")}
        size = _size(kind, op.get("value"))
        if size is not None:
            sizes[oid] = size
            _counter(trace, objects[oid], oid, kind, t, size)
        return flows  # any other kind (a Pipe, SharedMemory, one yet to come): no counter
    info = objects.get(oid)
    if name == "sample":  # the program's own objects: the value replaced whole, its depth in it
        size = _size(kind, op.get("value"))
        if info is not None and size is not None and size != sizes.get(oid):
            sizes[oid] = size
            _counter(trace, info, oid, kind, t, size)
        return flows
    if info is None or pid is None:
        return flows
    label = info.get("label") or oid
    if kind == "list" and oid in sizes:
        size = sizes[oid]
        size = {
            "append": size + 1, "insert": size + 1, "extend": size + len(op.get("values") or ()),
            "del": size - 1, "clear": 0, "replace": len(op.get("values") or ()),
        }.get(name, size)  # fmt: skip
        if size != sizes[oid]:
            sizes[oid] = size
            _counter(trace, info, oid, kind, t, size)
    elif kind in QUEUES:
        if name == "put":
            sizes[oid] = sizes.get(oid, 0) + 1
            flows += 1
            queued[oid].append(flows)
            trace.slice(pid, f"put {label}", t, t, "queue")
            trace.add(ph="s", id=flows, name="put → get", cat="queue", pid=pid, tid=pid, ts=trace.us(t))
            _counter(trace, info, oid, kind, t, sizes[oid])
        elif name == "get":
            sizes[oid] = max(0, sizes.get(oid, 0) - 1)
            trace.slice(pid, f"get {label}", t, t, "queue")
            if queued[oid]:
                trace.add(
                    ph="f", bp="e", id=queued[oid].popleft(), name="put → get", cat="queue", pid=pid, tid=pid,
                    ts=trace.us(t),
                )  # fmt: skip
            _counter(trace, info, oid, kind, t, sizes[oid])
        elif name == "block":
            blocked[(oid, pid, op.get("call"))] = t
        elif name == "unblock":
            since = blocked.pop((oid, pid, op.get("call")), None)
            if since is not None:
                trace.slice(pid, f"{op.get('call')}() on {label}", since, t, "wait", {"object": oid})
        return flows
    family = "lock" if kind in LOCKS else kind
    if family in WAITS:
        start, ends = WAITS[family]
        if name == start:
            open_waits[(oid, pid)] = (f"{name}() on {label}", t)
        elif name in ends and (oid, pid) in open_waits:
            what, since = open_waits.pop((oid, pid))
            trace.slice(pid, what, since, t, "wait", {"object": oid, "ended_by": name})
    return flows


def _size(kind: str | None, value: Any) -> int | None:
    """A list's length or a queue's depth in an object's whole value; None for other kinds."""
    if kind == "list":
        return len(value) if isinstance(value, list) else 0
    if isinstance(value, dict) and isinstance(value.get("depth"), int):
        return value["depth"]  # a native queue's sample: put - got, as its panel shows
    if kind in QUEUES:
        return len((value or {}).get("items", []))
    return None


def _counter(trace: Trace, info: dict, oid: str, kind: str, t: float, size: int) -> None:
    pid = info.get("manager") or 0
    what = "length" if kind == "list" else "depth"
    name = f"{info.get('label') or oid} {what}"
    trace.add(ph="C", name=name, cat="counter", pid=pid, tid=pid, ts=trace.us(t), args={what: size})


def _processes(trace: Trace, processes: dict[int, dict]) -> None:
    """Name each process track ``name (pid)``, parents before their children."""
    children: dict[int | None, list[int]] = collections.defaultdict(list)
    for pid, info in processes.items():
        parent = info.get("ppid")
        children[parent if parent in processes else None].append(pid)
    order: list[int] = []
    stack = sorted(children[None], reverse=True)
    while stack:
        pid = stack.pop()
        order.append(pid)
        stack.extend(sorted(children.get(pid, ()), reverse=True))

    def title(pid: int) -> str:
        info = processes[pid]
        return f"{info.get('name') or info.get('task') or 'process'} ({pid})"

    for index, pid in enumerate(order):
        info = processes[pid]
        trace.add(ph="M", name="process_name", pid=pid, tid=pid, ts=0, args={"name": title(pid)})
        trace.add(ph="M", name="process_sort_index", pid=pid, tid=pid, ts=0, args={"sort_index": index})
        trace.add(
            ph="M", name="thread_name", pid=pid, tid=pid, ts=0, args={"name": info.get("role") or "main"}
        )
        parent = info.get("ppid")
        if parent in processes:
            trace.add(
                ph="M",
                name="process_labels",
                pid=pid,
                tid=pid,
                ts=0,
                args={"labels": f"child of {title(parent)}"},
            )


def export_main(path: str, output: str) -> int:
    """``mpscope export``: write the trace; exit 0, or 2 with a message."""
    reader = RecordingReader(path)
    try:
        trace = build(reader)
    finally:
        reader.close()
    try:
        with open(output, "w") as f:
            json.dump(trace, f, separators=(",", ":"))
    except OSError as exc:
        print(f"mpscope export: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(
        f"mpscope export: {len(trace['traceEvents'])} events written to {output} (open it in ui.perfetto.dev)"
    )
    return 0
