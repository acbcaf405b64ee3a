"""The Pool task events' lines (issue 21, item 4): a worker's start and end logged at once
where the dashboard reads them even if the worker dies (a worker that dies in a task at once
has named it) and sent in batches, the parent's queued and callback events in batches, and
the dashboard's table reading both."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from mpscope_agent import task_log
from mpscope_agent.channel import Channel
from mpscope_agent.pool_hooks import EventBatch, TaskReporter, report_callback
from webapp.program.pool_tasks import PoolTaskTable


@pytest.fixture
def wire(tmp_path):
    """A channel on one end of a socket pair, and a function that reads the lines it wrote
    (a worker's ``tasks`` batch as the events in it)."""
    ours, theirs = socket.socketpair()
    channel = Channel(str(tmp_path), "key")
    st = os.fstat(ours.fileno())
    channel.sock, channel.sock_id = ours, (st.st_dev, st.st_ino)
    theirs.settimeout(2)

    def lines(flush: bool = True) -> list[dict]:
        if flush:  # what the writer thread would write within its window (flush waits for it)
            channel.flush()
        theirs.setblocking(False)
        data = b""
        try:
            while chunk := theirs.recv(1 << 20):
                data += chunk
        except BlockingIOError:
            pass
        messages = [json.loads(line) for line in data.splitlines()]
        return [e for m in messages for e in (m["events"] if m["t"] == "tasks" else [m])]

    yield channel, lines
    ours.close()
    theirs.close()


def test_each_start_is_logged_before_its_task_runs_and_read_even_if_the_worker_dies(wire, tmp_path):
    channel, lines = wire
    reporter = TaskReporter(channel, "pool")
    for job in range(3):  # a run of fast tasks: sent together by the writer, in order
        reporter.start(job, 0, "square", f"{job}", 1)
        reporter.end(job, 0, True, None)
    expected = [(ev, job) for job in range(3) for ev in ("start", "end")]
    assert [(m["ev"], m["job"]) for m in lines()] == expected
    with channel.lock:  # the writer thread waits: nothing more is sent meanwhile
        reporter.start(7, 0, "boom", "'x', 2", 1)
        reporter.end(7, 0, False, 'Trace "quoted"\n\u00e9')
        # the worker dies here, before its writer sent them: the dashboard reads them from its log
        start, end = [json.loads(line) for line in task_log.unsent(str(tmp_path), os.getpid())]
    assert start | {"owner": 0, "time": 0} == {
        "t": "task", "ev": "start", "kind": "pool", "owner": 0, "job": 7, "i": 0,
        "func": "boom", "args": "'x', 2", "n": 1, "time": 0,
    }  # fmt: skip
    assert end["ok"] is False and end["error"] == 'Trace "quoted"\n\u00e9'
    assert not (tmp_path / f"tasks-{os.getpid()}").exists()  # read once, then removed


def test_a_log_that_wraps_round_or_fills_loses_and_repeats_nothing(tmp_path):
    ours, theirs = socket.socketpair()
    channel = Channel(str(tmp_path), "key")
    st = os.fstat(ours.fileno())
    channel.sock, channel.sock_id = ours, (st.st_dev, st.st_ino)
    received = []
    reader = threading.Thread(target=lambda: received.extend(iter(lambda: theirs.recv(1 << 20), b"")))
    reader.start()
    reporter = TaskReporter(channel, "pool")
    name = "f" * 900  # ~1 KiB an event: the 1 MiB ring fills and wraps round several times
    for job in range(3000):
        reporter.start(job, 0, name, None, 1)
        reporter.end(job, 0, True, None)
    channel.flush()
    with channel.lock:  # the writer thread waits
        reporter.start(3000, 0, name, None, 1)  # logged, then the worker dies
        unsent = [json.loads(line) for line in task_log.unsent(str(tmp_path), os.getpid())]
    ours.shutdown(socket.SHUT_WR)
    reader.join(10)
    ours.close()
    theirs.close()
    sent = [e for line in b"".join(received).splitlines() for e in json.loads(line)["events"]]
    expected = [(ev, j) for j in range(3000) for ev in ("start", "end")]
    sent, unsent = [(m["ev"], m["job"]) for m in sent], [(m["ev"], m["job"]) for m in unsent]
    assert sent[:6000] == expected
    # the last event is read from the log (and sent by the writer too, once it could run)
    assert unsent == [("start", 3000)] and sent[6000:] in ([], unsent)


CRASHES_AT_ONCE = """
import multiprocessing as mp, os

def work(x):
    if x == 300:
        os._exit(3)  # dies in its task at once, after a run of fast ones
    return x * x

if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(sum(pool.map(work, range(600), chunksize=1)))
"""


@pytest.mark.timeout(90)
def test_a_task_whose_worker_dies_at_once_after_fast_ones_is_named_lost(tmp_path):
    from run_support import diagnosis, pool_tasks, watching

    with watching(tmp_path, CRASHES_AT_ONCE) as (_srv, api):
        found = diagnosis(api, "lost_task")
        lost = [t for t in pool_tasks(api) if t["state"] == "lost"]
        assert [t["args"] for t in lost] == ["300"] and lost[0]["pid"] in found["pids"]


def test_the_parents_events_are_batched_as_valid_json(wire):
    channel, lines = wire
    queued = EventBatch(channel, "queued", "pool", ("pool", "func"))
    callbacks = EventBatch(channel, "callback", "pool", ("thread", "error_callback"))
    for job in range(4):
        queued.add("Pool-1 (prog.py:3)", 'odd "name" \u00e9', job, 0, 1.5)
    report_callback(callbacks, 2, False)
    report_callback(callbacks, 3, True)
    queued.add("Pool-1 (prog.py:3)", object(), "not a job", 0, 1.5)  # written as json.dumps would
    sent = lines()
    batch = [m for m in sent if m["ev"] == "queued" and m["func"] == 'odd "name" \u00e9']
    assert batch[0]["tasks"] == [[job, 0, 1.5] for job in range(4)]
    assert [m["tasks"][0][:2] for m in sent if m["ev"] == "callback"] == [[2, 0], [3, 0]]
    assert [m["error_callback"] for m in sent if m["ev"] == "callback"] == [False, True]
    assert any(m.get("tasks") == [["not a job", 0, 1.5]] for m in sent)


def test_the_table_reads_batches_and_skips_bad_entries():
    table = PoolTaskTable(lambda batch: None)
    base = {"t": "task", "kind": "pool", "owner": 1}
    table.record(
        1, base | {"ev": "queued", "pool": "P", "func": "f", "tasks": [[1, 0, 1.0], "bad", [2], [2, 0, 1.0]]}
    )
    table.record(5, base | {"ev": "start", "job": 1, "i": 0, "func": "f", "args": "1", "n": 1, "time": 2.0})
    table.record(5, base | {"ev": "end", "job": 1, "i": 0, "ok": True, "error": None, "time": 3.0})
    table.record(
        1,
        base
        | {"ev": "callback", "thread": "T", "error_callback": False, "tasks": [[1, 0, 4.0], [99, 0, 4.0]]},
    )
    table.record(1, base | {"ev": "queued", "tasks": {"not": "a list"}})
    tasks = {t["job"]: t for t in table.all()}
    assert set(tasks) == {1, 2}
    one = tasks[1]
    assert (one["state"], one["pid"], one["args"], one["queued_at"], one["started_at"], one["ended_at"]) == (
        "done", 5, "1", 1.0, 2.0, 3.0,
    )  # fmt: skip
    assert one["callback"] == {"pid": 1, "thread": "T", "error_callback": False, "at": 4.0}


FAST_TASKS = """
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool


def square(x):
    return x * x


if __name__ == "__main__":
    results = []
    with Pool(2) as pool:
        pending = [pool.apply_async(square, (i,), callback=results.append) for i in range(600)]
        for result in pending:
            result.wait()
    with ProcessPoolExecutor(2) as executor:
        assert list(executor.map(square, range(300))) == [i * i for i in range(300)]
    assert sorted(results) == [i * i for i in range(600)]
"""


@pytest.mark.timeout(90)
def test_every_fast_task_is_shown_with_its_start_end_worker_args_and_callback(tmp_path):
    from run_support import pool_tasks, wait_program, watching
    from support import wait_for

    with watching(tmp_path, FAST_TASKS) as (_srv, api):
        assert wait_program(api)["exitcode"] == 0
        tasks = wait_for(
            lambda: (t := pool_tasks(api)) and len(t) == 900 and all(x["ended_at"] for x in t) and t,
            20,
            "900 finished tasks",
        )
    pool = [t for t in tasks if t["id"].split(":")[1] == "pool"]
    assert len(pool) == 600 and {t["args"] for t in pool} == {f"{i}" for i in range(600)}
    for task in tasks:
        assert task["state"] == "done" and task["func"] == "square" and task["pid"], task
        assert task["queued_at"] <= task["started_at"] <= task["ended_at"], task
    assert all(t["callback"] and t["callback"]["thread"] != "MainThread" for t in pool)
