"""Turn what one run measured into its result: the figures and a takeaway built from them.

Each function takes the finished run and what the lesson's ``main`` returned, and
returns the result the page shows. Every number comes from that run's own events, output
lines and return value.
"""

from __future__ import annotations

import os

import psutil

from sharedstate.encoding import encode_list, encode_pairs


def _lines(run, prefix: str) -> list[dict]:
    return [line for line in run.output if line["text"].startswith(prefix)]


def process(run, result: dict) -> dict:
    p = run.params
    finish = [line["pid"] for line in _lines(run, "hello ")]
    serial = p["processes"] * p["seconds"]
    same = finish == result["start_order"]
    return {
        **result,
        "finish_order": finish,
        "takeaway": (
            f"{p['processes']} processes each slept {p['seconds']:g} s; all were done in "
            f"{result['wall']:.2f} s, not {serial:g} s: they slept at the same time. They printed in "
            + (
                "the order they were started this time; run it again."
                if same
                else "a different order from the one they were started in."
            )
        ),
    }


def threads(run, result: dict) -> dict:
    pairs = []
    for pid in result["pids"]:
        main = [line["tid"] for line in run.output if line["pid"] == pid and line["text"].startswith("hello")]
        extra = [
            line["tid"] for line in run.output if line["pid"] == pid and line["text"].startswith("thread")
        ]
        pairs.append(
            {"pid": pid, "main_tid": main[0] if main else None, "thread_tid": extra[0] if extra else None}
        )
    idents = [x["thread_tid"] for x in pairs if x["thread_tid"] is not None]
    repeated = len(idents) != len(set(idents))
    return {
        "pairs": pairs,
        "takeaway": (
            "Every PID differs, but threading.get_ident() is only unique inside one process: "
            + (
                "here the same ident shows up in different processes."
                if repeated
                else "here the idents happened to differ, yet nothing promises that across processes."
            )
            + " Identify a thread by (PID, ident)."
        ),
    }


def parent(run, result: dict) -> dict:
    server = result["server_pid"]
    nodes = {server: {"pid": server, "ppid": result["server_ppid"], "label": "mpscope server"}}
    for child in run.result.get("children", []):
        nodes[child["pid"]] = {
            "pid": child["pid"],
            "ppid": child["ppid"],
            "label": f"child: __main__ is {child['main']}",
        }
    for ppid in {c["ppid"] for c in run.result.get("children", [])} - set(nodes):
        try:
            proc = psutil.Process(ppid)
            nodes[ppid] = {"pid": ppid, "ppid": proc.ppid(), "label": "fork server (the context's)"}
        except psutil.Error:
            nodes[ppid] = {"pid": ppid, "ppid": None, "label": "(ended)"}
    mains = sorted({c["main"] for c in run.result.get("children", [])})
    direct = all(c["ppid"] == server for c in run.result.get("children", []))
    how = result["start_method"]
    return {
        **result,
        "tree": list(nodes.values()),
        "takeaway": (
            f"With {how}, each child's parent is "
            + ("the server itself" if direct else "the fork server, whose parent is the server")
            + f"; in the children __main__ is called {', '.join(mains) or '?'}. The tutorial's __mp_main__ "
            "appears only when spawn re-imports a main script (python script.py); mpscope runs as "
            "python -m webapp, whose __main__ is never re-imported in a child."
        ),
    }


def queues(run, result: dict) -> dict:
    got = run.result.get("reader_got", [None])[0]
    after = run.result.get("writer_after_change", [None])[0]
    return {
        **result,
        "reader_got": got,
        "writer_after_change": after,
        "takeaway": (
            f"queue.Queue cannot cross a process boundary: p.start() raised {result['thread_queue_error']}. "
            "A multiprocessing.Queue pickles what you put: the reader got a copy, and the writer's "
            "change after put() never reached it. Careful: put() pickles later, in a feeder thread, "
            "so the writer here waits for the send before changing its list."
        ),
    }


def pipe(run, result: dict) -> dict:
    last = {}
    for event in run.events:
        if event["kind"] == "state":
            last[event["pid"]] = event
    blocked_on = [e["label"] for e in last.values() if e["state"] == "blocked" and "#" in e.get("label", "")]
    return {
        **result,
        "blocked_on": blocked_on,
        "takeaway": (
            f"Each send() matches one recv(). recv #{result['blocked_recv']} had nothing to read and stayed "
            f"blocked for {result['blocked_for']:.2f} s, until the timeout ended it. A Pipe() is duplex by "
            f"default; with duplex=False the reading end cannot send: {result['one_way_error']}."
        ),
    }


def manager(run, result: dict) -> dict:
    races = result["races"]
    lost = [r["expected"] - r["got"] for r in races if not r["lock"]]
    locked = [r["expected"] - r["got"] for r in races if r["lock"]]
    return {
        "dict": encode_pairs(dict(result["dict"])),
        "list": encode_list(result["list"]),
        "races": races,
        "takeaway": (
            f"Every process saw and changed the same dict and list. Lost updates without a Lock: "
            f"{', '.join(map(str, lost))}; with one: {', '.join(map(str, locked))}. The Manager runs each "
            "call on its own, but d[k] += 1 is two calls (get, then set), so the tutorial's claim that "
            "the Manager comes with a lock is wrong."
        ),
    }


def lock(run, result: dict) -> dict:
    phases = []
    for mark in result["phases"]:
        start, end = run.rel(mark["from"]), run.rel(mark["to"])
        lines = [line for line in run.output if start <= line["t"] <= end and line["pid"] != os.getpid()]
        mixed = sum(1 for line in lines if "writers" in line)
        phases.append({"lock": mark["lock"], "lines": len(lines), "mixed": mixed})
    text = "; ".join(
        f"{'with' if p['lock'] else 'without'} a Lock {p['mixed']} of {p['lines']} lines mixed"
        for p in phases
    )
    return {
        "phases": phases,
        "takeaway": f"All processes share one screen: {text}. A Lock held for a whole line keeps it whole.",
    }


def task_intervals(run) -> list[dict]:
    """Each Pool task's [start, end] from its worker's events."""
    by_thread: dict = {}
    for event in run.events:
        by_thread.setdefault((event["pid"], event.get("tid")), []).append(event)
    out = []
    for events in by_thread.values():
        for this, after in zip(events, events[1:] + [None], strict=True):
            if "task" in this:
                end = after["t"] if after else this["t"]
                out.append({"task": this["task"], "pid": this["pid"], "start": this["t"], "end": end})
    return sorted(out, key=lambda x: x["start"])


def overlapping(intervals: list[dict]) -> int:
    """How many pairs of intervals overlap in time."""
    return sum(
        1
        for i, a in enumerate(intervals)
        for b in intervals[i + 1 :]
        if b["start"] < a["end"] and a["start"] < b["end"]
    )


def pool(run, result: dict) -> dict:
    intervals = task_intervals(run)
    phases = {}
    for name, (start, end) in result["marks"].items():
        inside = [x for x in intervals if run.rel(start) <= x["start"] <= run.rel(end)]
        phases[name] = {"tasks": inside, "overlaps": overlapping(inside), "wall": end - start}
    callbacks = sorted({line["pid"] for line in _lines(run, "-->exec done")})
    forgot = result["forgot_join"]
    return {
        "phases": phases,
        "callback_pids": callbacks,
        "server_pid": result["server_pid"],
        "join_error": result["join_error"],
        "forgot_join": forgot,
        "takeaway": (
            f"apply: {phases['apply']['overlaps']} overlapping task pairs, a staircase in "
            f"{phases['apply']['wall']:.2f} s. apply_async: {phases['apply_async']['overlaps']} overlapping "
            "pairs, "
            f"waves of {run.params['size']} in {phases['apply_async']['wall']:.2f} s. Callbacks ran in PID "
            f"{', '.join(map(str, callbacks))}: the server's own ({result['server_pid']}). "
            f"join() before close() raised {result['join_error']}. Without join(): "
            f"{forgot['done']} of {forgot['submitted']} tasks "
            "finished before the pool was terminated at exit; the rest never printed."
        ),
    }


def gil(run, result: dict) -> dict:
    walls = result["walls"]
    names = list(walls)
    bars = []
    for name in names:
        base = walls[names[0]] if name.startswith("CPU") else walls[names[3]]
        bars.append(
            {"name": name, "wall": walls[name], "speedup": base / walls[name] if walls[name] else None}
        )
    cpu = bars[:3]
    p = run.params
    return {
        "bars": bars,
        "cpu_count": result["cpu_count"],
        "usable_cpus": result["usable_cpus"],
        "takeaway": (
            f"This machine has {result['cpu_count']} CPUs, {result['usable_cpus']} usable here. "
            f"CPU-bound work: {p['threads']} threads ran at {cpu[1]['speedup']:.2f}× the serial speed "
            f"(the GIL lets one thread run Python at a time); "
            f"{p['processes']} processes ran at {cpu[2]['speedup']:.2f}× (at most "
            f"{min(p['processes'], result['usable_cpus'])}× possible). IO-bound waits: threads ran at "
            f"{bars[4]['speedup']:.2f}×, since a thread waiting on IO releases the GIL. Wall times run "
            "from start() to join() in the server, so they include starting each process."
        ),
    }
