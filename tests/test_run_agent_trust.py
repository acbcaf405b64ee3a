"""``mpscope run`` believes the kernel, not the program, and bounds what an agent connection may cost.

A process's own messages cannot make mpscope list or signal a process that is not the
program's (issue 21, Security 1); an agent connection that never says hello, hoards
descriptors, sends lines that are not objects or a huge value costs the dashboard a bounded,
linear amount (Security 5 and 9).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from run_support import RunServer, by_name, processes, wait_program, write
from support import Api, wait_for

from webapp.program.pool_tasks import PoolTaskTable

pytestmark = pytest.mark.timeout(120)

# Names an outside process (argv[1]) and mpscope itself (its parent) as its children, then
# starts a real one: its ``proc`` comes after the two on the same connection.
FAKE_CHILDREN = textwrap.dedent(
    """
    import multiprocessing as mp, os, sys, time
    import mpscope_agent.agent as agent

    def nap():
        while True:
            time.sleep(0.05)

    if __name__ == "__main__":
        for pid in (int(sys.argv[1]), os.getppid()):
            agent.channel.send({"t": "proc", "pid": pid, "ppid": os.getpid(), "name": "fake", "role": "pool"})
        child = mp.Process(target=nap, name="real-child")
        child.start()
        child.join()
    """
)


def test_a_program_cannot_make_mpscope_list_or_signal_a_process_that_is_not_its_own(tmp_path: Path, stranger):
    program = write(tmp_path, FAKE_CHILDREN)
    srv = RunServer(tmp_path, str(program), str(stranger.pid))
    api = Api(srv)
    try:
        wait_for(lambda: by_name(api, "real-child"), 30, "the program's real child")
        listed = processes(api)
        assert stranger.pid not in listed and srv.pid not in listed
        assert by_name(api, "fake") is None
        for pid in (stranger.pid, srv.pid):
            for sig in ("TERM", "KILL"):
                answer = api.kill(pid, sig)
                assert answer.status_code == 404 and "error" in answer.json()
        # kill everything listed (the program and its real child), as -9 on every row would
        answer = api.request("DELETE", "/api/workers", params={"state": "running", "signal": "KILL"})
        assert answer.status_code == 202, answer.text
        wait_program(api)
        assert stranger.poll() is None and srv.proc.poll() is None
        assert "which is not its child" in srv.log()
    finally:
        api.close()
        srv.stop()  # SIGTERM, as Ctrl-C: kills what is left of the program
    assert stranger.poll() is None, "mpscope signalled a process that is not the program's"


# -- Pool callbacks (Security 4) ---------------------------------------------------------------
def test_pool_task_events_cost_the_same_however_many_tasks_are_kept():
    """A full table (5,000 tasks, none finished) must not make each event scan it: 20,000
    tasks' queued, callback, start and end events took minutes when callbacks and trimming
    scanned every kept task."""
    emitted = []
    table = PoolTaskTable(emitted.extend, cap=5000)

    def event(ev: str, job: int, **fields) -> dict:
        return {"owner": 1, "kind": "pool", "job": job, "i": 0, "ev": ev, "time": 1.0, "func": "f", **fields}

    for job in range(5000):
        table.record(1, event("queued", job))
    start = time.process_time()
    for job in range(5000, 25_000):
        table.record(1, event("queued", job))
        table.record(1, event("callback", job - 5000, thread="Thread-3"))
    for job in range(20_000, 25_000):
        table.record(2, event("start", job))
        table.record(2, event("end", job, ok=True))
        table.record(1, event("callback", job, thread="Thread-3"))
    spent = time.process_time() - start
    tasks = table.all()
    assert len(tasks) == 5000 and {t["job"] for t in tasks} == set(range(20_000, 25_000))
    assert all(t["state"] == "done" and t["callback"]["thread"] == "Thread-3" for t in tasks)
    assert spent < 3.0, f"{spent:.1f} s of CPU for 55,000 events"
    # a map_async's callback is marked on its job's last chunk, and a full table drops finished tasks first
    table.clear()
    for i in range(3):
        table.record(1, {**event("queued", 7), "i": i})
    table.record(1, event("callback", 7, thread="T"))
    assert [t["callback"] is not None for t in table.all()] == [False, False, True]
