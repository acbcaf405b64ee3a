"""Each process's row says what it waits on (issue "Why is it stuck?", part 2), sampled by its agent.

Real ``mpscope run`` servers on the programs in ``examples/stuck/``; the wait is read from
``GET /api/state`` as the page reads it, and a process busy computing has none.
"""

from __future__ import annotations

import pytest
from run_support import processes

from mpscope_agent.waits import describe
from testkit.waiting import wait_for


def by_role_pid(api, role: str) -> int:
    return next(p["pid"] for p in processes(api).values() if p["role"] == role)


def line_of(path: str, text: str) -> int:
    from run_support import EXAMPLES

    lines = (EXAMPLES / path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize("run_server", [("stuck/get_without_put.py",)], indirect=True)
def test_the_child_waits_in_get_and_the_parent_in_join(run_server, run_api):
    get_line = line_of("stuck/get_without_put.py", "jobs.get()")
    join_line = line_of("stuck/get_without_put.py", "worker.join()")

    def waits() -> dict | None:
        by_role = {p["role"]: p["waiting"] for p in processes(run_api).values() if p["state"] == "running"}
        return by_role if by_role.get("main") and by_role.get("process") else None

    found = wait_for(waits, 20, "both processes waiting")
    assert found["process"]["text"] == f"get() on jobs · get_without_put.py:{get_line}"
    assert found["process"]["call"] == "get" and found["process"]["object"] == "jobs"
    child = found["main"]["pid"]  # the process it joins
    assert found["main"]["text"] == f"join() on worker (PID {child}) · get_without_put.py:{join_line}"
    assert processes(run_api)[child]["role"] == "process"
    # and the hang is named: the child's get() can never be satisfied, its parent only joins it
    named = wait_for(
        lambda: next(
            (d for d in run_api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == "no_writer"), None
        ),
        20,
        "the no_writer diagnosis",
    )
    assert named["pids"] == [child, by_role_pid(run_api, "main")] and "jobs" in named["text"]
    assert found["main"]["since"] > 0


@pytest.mark.parametrize("run_server", [("stuck/busy.py",)], indirect=True)
def test_a_process_busy_computing_waits_on_nothing(run_server, run_api):
    def spinner() -> dict | None:
        running = [
            p for p in processes(run_api).values() if p["role"] == "process" and p["state"] == "running"
        ]
        return running[0] if running and running[0]["cpu_percent"] > 20 else None

    busy = wait_for(spinner, 20, "the child spinning")
    assert busy["waiting"] is None
    main = wait_for(
        lambda: next((p for p in processes(run_api).values() if p["role"] == "main" and p["waiting"]), None),
        20,
        "the parent waiting",
    )
    assert main["waiting"]["call"] == "join"


def test_a_wait_in_a_c_function_is_named_from_the_programs_line():
    import sys
    import threading
    import time

    started = threading.Event()

    def nap() -> None:
        started.set()
        time.sleep(5)  # the frame under test

    thread = threading.Thread(target=nap, daemon=True)
    thread.start()
    started.wait(5)
    frame = wait_for(
        lambda: (f := sys._current_frames().get(thread.ident)) and f.f_lineno != 0 and f, 5, "a frame"
    )
    waiting = wait_for(lambda: describe(sys._current_frames()[thread.ident]), 5, "the nap")
    assert waiting["call"] == "sleep" and waiting["object"] is None, waiting
    assert waiting["text"].startswith("sleep() · test_waits.py:"), waiting
    del frame


POOL_SLEEP = """
import multiprocessing as mp, time
if __name__ == "__main__":
    with mp.Pool(2) as pool:
        pool.apply_async(time.sleep, (60,))
        time.sleep(60)
"""


def test_a_pool_worker_in_a_task_is_not_waiting_for_one(tmp_path):
    from run_support import watching

    with watching(tmp_path, POOL_SLEEP) as (_srv, api):
        texts = wait_for(
            lambda: (
                sorted(
                    (p["waiting"] or {}).get("text", "")
                    for p in processes(api).values()
                    if p["role"] == "pool" and p["state"] == "running"
                )
                == ["sleep() in a pool task", "waiting for a task"]
            ),
            20,
            "one worker in its task, one waiting for the next",
        )
        assert texts
