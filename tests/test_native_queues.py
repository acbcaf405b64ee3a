"""multiprocessing's own Queue, SimpleQueue and JoinableQueue under ``mpscope run`` (issue "Why is
it stuck?", part 1, queues): each one the program makes is a panel with its puts and gets per
process, depth, last items put and who is blocked, and the program's output is its own."""

from __future__ import annotations

import subprocess

import pytest
from run_support import PROGRAM_PYTHON, RunServer, diagnosis, processes, run_to_end, wait_program, watching
from support import Api

from mpscope_agent.native_queues import short_repr
from testkit.waiting import wait_for

PROGRAM = """
import multiprocessing as mp
import sys


def work(q, sq, jq, n):
    for i in range(n):
        q.put(("item", i))
        sq.put(i)
        jq.put(i * 2)
    for _ in range(n):
        jq.get()
        jq.task_done()


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "{method}")
    q = mp.Queue()
    sq = mp.SimpleQueue()
    jq = mp.JoinableQueue()
    ps = [mp.Process(target=work, args=(q, sq, jq, 10)) for _ in range(2)]
    for p in ps:
        p.start()
    got = [q.get() for _ in range(20)] + [sq.get() for _ in range(15)]
    for p in ps:
        p.join()
    jq.join()
    q.put("last")
    print("got", len(got), sorted(x[1] for x in got[:20])[:3])
"""


def native_queues(api) -> dict[str, dict]:
    return {
        oid: o
        for oid, o in api.state()["objects"].items()
        if o.get("origin") == "native" and o["kind"] in ("Queue", "SimpleQueue", "JoinableQueue")
    }


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_three_queues_shared_by_a_parent_and_two_children(tmp_path, method):
    source = PROGRAM.replace("{method}", method)
    with watching(tmp_path, source) as (srv, api):
        program = wait_program(api)
        queues = wait_for(
            lambda: (
                (found := native_queues(api))
                and all(o["value"]["got"] for o in found.values())
                and len(found) == 3
                # each child's last facts come on its own connection, maybe after the program's end
                and sum(o["value"]["put"] for o in found.values()) == 21 + 20 + 20
                and found
            ),
            20,
            "the three queues with their last counts",
        )
        by_kind = {o["kind"]: o for o in queues.values()}
        assert by_kind["Queue"]["label"] == "q = mp.Queue()  · program.py:18"
        assert by_kind["SimpleQueue"]["label"] == "sq = mp.SimpleQueue()  · program.py:19"
        assert by_kind["JoinableQueue"]["label"] == "jq = mp.JoinableQueue()  · program.py:20"
        children = {p["pid"] for p in processes(api).values() if p["name"].startswith("Process-")}
        main = next(p["pid"] for p in processes(api).values() if p["role"] == "main")
        q, sq, jq = (by_kind[k]["value"] for k in ("Queue", "SimpleQueue", "JoinableQueue"))
        assert (q["put"], q["got"], q["depth"]) == (21, 20, 1)
        assert (sq["put"], sq["got"], sq["depth"]) == (20, 15, 5)
        assert (jq["put"], jq["got"], jq["depth"], jq["unfinished"]) == (20, 20, 0, 0)
        assert q["by"][str(main)] == {"put": 1, "got": 20}
        assert all(q["by"][str(pid)] == {"put": 10, "got": 0} for pid in children)
        assert all(jq["by"][str(pid)]["put"] == 10 for pid in children)
        assert q["items"][-1] == {"$type": "repr", "repr": "'last'"} and q["putters"][-1] == main
        assert len(q["items"]) == 5 and all(i["repr"].startswith("('item', ") for i in q["items"][:-1])
        assert q["blocked"] == [] and q["flushing"] == []
        assert program["exitcode"] == 0
        out = srv.output()
    plain = subprocess.run(
        [PROGRAM_PYTHON, str(tmp_path / "program.py")], capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 0 and plain.stdout in out and plain.stdout.startswith("got 35 [0, 0, 1]")


BLOCKED = """
import multiprocessing as mp


def consume(q):
    print("consumer got", q.get(), flush=True)
    q.get()


if __name__ == "__main__":
    mp.set_start_method("spawn")
    jobs = mp.Queue()
    child = mp.Process(target=consume, args=(jobs,))
    child.start()
    jobs.put("first")
    child.join()
"""


def test_a_consumer_blocked_in_get_is_shown_on_its_queue(tmp_path):
    with watching(tmp_path, BLOCKED) as (srv, api):
        queue = wait_for(
            lambda: next(
                (o for o in native_queues(api).values() if o["value"]["blocked"] and o["value"]["got"] == 1),
                None,
            ),
            20,
            "the consumer blocked in get()",
        )
        child = next(p for p in processes(api).values() if p["name"].startswith("Process-"))
        (blocked,) = queue["value"]["blocked"]
        assert blocked["pid"] == child["pid"] and blocked["call"] == "get"
        assert queue["label"] == "jobs = mp.Queue()  · program.py:12"
        assert child["waiting"]["oid"] in native_queues(api)
        assert queue["value"]["depth"] == 0 and queue["value"]["items"][-1]["repr"] == "'first'"
        no_writer = diagnosis(api, "no_writer")
        assert "jobs" in no_writer["text"]


def test_the_exit_code_and_output_are_the_programs_own(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM.replace("{method}", "forkserver") + "    raise SystemExit(3)\n")
    done = run_to_end(str(tmp_path / "prog.py"))
    plain = subprocess.run(
        [PROGRAM_PYTHON, str(tmp_path / "prog.py")], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, plain.returncode) == (3, 3)
    assert plain.stdout in done.stdout and plain.stderr == ""


def test_short_reprs_are_bounded_and_never_call_the_programs_repr():
    class Loud:
        def __repr__(self):
            raise AssertionError("called")

    assert short_repr(b"x" * 10**7).startswith("b'xxx") and len(short_repr(b"x" * 10**7)) <= 80
    assert len(short_repr("y" * 10**6)) <= 80 and len(short_repr(list(range(10**5)))) <= 80
    assert short_repr(Loud()) == "<Loud object>" and short_repr([Loud()]) == "[<Loud object>]"
    assert short_repr(("item", 3)) == "('item', 3)"


POOL = """
import multiprocessing as mp

if __name__ == "__main__":
    q = mp.get_context("spawn").Queue(maxsize=3)
    with mp.Pool(2) as pool:
        print(pool.map(abs, range(-3, 0)))
    q.put_nowait(1)
    print(q.get(timeout=10))
"""


def test_a_pools_own_queues_are_not_the_programs(tmp_path):
    with watching(tmp_path, POOL) as (srv, api):
        wait_program(api)
        queues = wait_for(
            lambda: (
                (found := native_queues(api)) and next(iter(found.values()))["value"]["got"] == 1 and found
            ),
            20,
            "the program's one queue",
        )
        ((oid, queue),) = queues.items()  # not the Pool's task and result SimpleQueues
        assert oid.startswith("native-queue-") and queue["kind"] == "Queue"
        assert queue["label"] == 'q = mp.get_context("spawn").Queue(maxsize=3)  · program.py:5'
        assert (queue["value"]["put"], queue["value"]["maxsize"]) == (1, 3)
        # the program's output reaches the server's log a moment after the program's end
        wait_for(lambda: "[3, 2, 1]\n1\n" in srv.output(), 20, "the program's output")


def test_a_child_whose_exit_waits_for_its_queues_feeder_is_flushing_into_it(tmp_path):
    srv = RunServer(tmp_path, "stuck/queue_join.py")  # the child put 1 MB; the parent joins it first
    api = Api(srv)
    try:
        queue = wait_for(
            lambda: next((o for o in native_queues(api).values() if o["value"]["flushing"]), None),
            20,
            "the child flushing at exit",
        )
        (flush,) = queue["value"]["flushing"]
        child = processes(api)[flush["pid"]]
        assert child["name"] == "Process-1" and flush["items"] == 1 and flush["bytes"] > 1_000_000
        assert queue["label"].startswith("results = mp.Queue()") and queue["value"]["put"] == 1
        assert child["waiting"]["oid"] in native_queues(api) and queue["value"]["blocked"] == []
        assert (
            child["waiting"]["text"]
            == "exiting: flushing 1 item (1.0 MB) into results, which no process has read"
        )
        found = diagnosis(api, "queue_join")
        assert "which put items on results and cannot exit" in found["text"]
        assert child["waiting"]["oid"] in found["objects"]
    finally:
        api.close()
        srv.stop()
