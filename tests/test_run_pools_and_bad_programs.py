"""``mpscope run``: Pool and ProcessPoolExecutor tasks on the timeline, and programs that misbehave."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from run_support import (
    PROGRAM_VERSION,
    RunServer,
    by_name,
    pool_tasks,
    processes,
    wait_program,
)
from support import Api, LiveClient, wait_for

pytestmark = pytest.mark.timeout(90)


# -- pool tasks -------------------------------------------------------------------------------
@pytest.mark.parametrize("run_server", [("pool_callbacks.py", "0.1")], indirect=True)
def test_pool_tasks_show_each_task_its_worker_failures_and_where_callbacks_ran(run_server, run_api):
    client = LiveClient(run_api)
    try:
        info = wait_program(run_api)
        # every task finished and its callback seen: the workers' events and the parent's last
        # (batched) callback line, on other connections, may still be on their way at its end
        tasks = wait_for(
            lambda: (
                (t := pool_tasks(run_api))
                and len(t) == 15
                and all(x["ended_at"] for x in t)
                and all(x["callback"] for x in t if x["func"] in ("foo", "fails"))
                and t
            ),
            20,
            "15 finished tasks and their callbacks",
        )
        workers = {w["pid"]: w for w in run_api.state()["workers"] if w["role"] == "pool"}
        foo = [t for t in tasks if t["func"] == "foo"]
        assert len(foo) == 10 and all(t["state"] == "done" for t in foo)
        assert all(t["pid"] in workers and t["queued_at"] <= t["started_at"] <= t["ended_at"] for t in foo)
        assert all(t["callback"]["pid"] == info["pid"] for t in foo)  # callbacks run in the parent
        if PROGRAM_VERSION >= (3, 10):  # a thread's name says its target from 3.10 on
            assert all("_handle_results" in t["callback"]["thread"] for t in foo)
        assert all(t["callback"]["thread"] != "MainThread" for t in foo)
        chunks = [t for t in tasks if t["func"] == "square"]
        assert len(chunks) == 4 and {t["items"] for t in chunks} == {5}
        (failed,) = [t for t in tasks if t["state"] == "failed"]
        assert failed["func"] == "fails" and "ValueError: task 7 failed on purpose" in failed["error"]
        assert failed["callback"]["error_callback"] is True
        assert {t["pool"].split(" ")[0] for t in tasks} == {"Pool-1", "Pool-2"}
        ids = {t["id"] for t in tasks}
        client.wait(
            lambda: (
                ids
                == {t["id"] for m in client.received("pool_tasks") for t in m["tasks"]}
                | {t["id"] for snap in client.received("snapshot") for t in snap["pool_tasks"]}
            ),
            what="every task in the first snapshot or a pool_tasks event",
        )
    finally:
        client.close()


@pytest.mark.parametrize("run_server", [("executor.py", "0.05")], indirect=True)
def test_process_pool_executor_tasks_are_shown(run_server, run_api):
    wait_program(run_api)
    tasks = wait_for(lambda: (t := pool_tasks(run_api)) and len(t) == 9 and t, 10, "9 executor tasks")
    assert sorted(t["func"] for t in tasks) == ["fails"] + ["slow_square"] * 8
    (failed,) = [t for t in tasks if t["state"] == "failed"]
    assert "RuntimeError: no luck with 3" in failed["error"]
    assert all(t["pool"].startswith("ProcessPoolExecutor-1 (executor.py:") for t in tasks)


# -- bad programs ------------------------------------------------------------------------------
@pytest.mark.parametrize("run_server", [("bad/syntax_error.py",)], indirect=True)
def test_a_syntax_error_is_shown_as_the_programs_stderr(run_server, run_api):
    info = wait_program(run_api)
    assert info["exitcode"] == 1
    lines = wait_for(
        lambda: run_api.get_json(f"/api/workers/{info['pid']}/output")["lines"],
        10,
        "the main process's output",
    )
    assert any("SyntaxError" in line["text"] and line["stream"] == "stderr" for line in lines)
    assert "SyntaxError" in run_server.output()


@pytest.mark.parametrize("run_server", [("bad/child_dies.py",)], indirect=True)
def test_children_that_die_show_how(run_server, run_api):
    wait_program(run_api)
    killed = wait_for(lambda: by_name(run_api, "killed"), 10)
    raised = wait_for(lambda: by_name(run_api, "raises"), 10)
    assert (killed["state"], killed["signal"]) == ("killed", "SIGKILL")
    assert (raised["state"], raised["exitcode"]) == ("exited", 1)
    text = [line["text"] for line in run_api.get_json(f"/api/workers/{raised['pid']}/output")["lines"]]
    assert "RuntimeError: the child failed" in text


@pytest.mark.parametrize("run_server", [("bad/fork_200.py", "0.5")], indirect=True)
def test_two_hundred_processes_are_all_listed(run_server, run_api):
    info = wait_program(run_api)
    assert info["exitcode"] == 0
    table = wait_for(
        lambda: (t := processes(run_api)) and len(t) == 201 and all(w["ended_at"] for w in t.values()) and t,
        20,
        "201 ended processes",
    )
    assert sum(w["exitcode"] == 0 for w in table.values()) == 201


def test_ctrl_c_stops_the_program_and_leaves_nothing(tmp_path: Path):
    srv = RunServer(tmp_path, "bad/ignores_sigterm.py")
    api = Api(srv)
    try:
        wait_for(lambda: by_name(api, "stubborn-child"), 20, "the stubborn child")
        for w in processes(api).values():
            srv.track(w["pid"])
    finally:
        api.close()
    assert srv.terminate(signal.SIGINT, timeout=15) == 0
    assert srv.survivors(10.0) == []
