"""The Labs over REST and Socket.IO: each lab, with small params, shows its real lesson."""

from __future__ import annotations

import time

import pytest
import requests
import socketio
from labs_fixtures import Labs, LabServer, lab_server_fixture, labs_fixture, wait_until  # noqa: F401

NAMES = ["process", "threads", "parent", "queues", "pipe", "manager", "lock", "pool", "gil"]


def server_pid(server: LabServer) -> int:
    return requests.get(f"{server.url}/healthz", timeout=5).json()["server_pid"]


# -- the contract ------------------------------------------------------------------------
def test_api_lists_the_nine_labs_with_defaults_and_limits(lab_server: LabServer) -> None:
    answer = requests.get(f"{lab_server.url}/api/labs", timeout=5)
    assert answer.status_code == 200
    listed = answer.json()
    assert [lab["name"] for lab in listed] == NAMES
    for lab in listed:
        assert set(lab) >= {"name", "title", "params"}
        assert lab["params"]["time_limit"]["max"] <= 60
    process = listed[0]["params"]
    assert process["processes"]["max"] <= 16 and process["seconds"]["max"] <= 10


def test_labs_page_is_served_without_inline_script_or_style(lab_server: LabServer) -> None:
    page = requests.get(f"{lab_server.url}/labs", timeout=5)
    assert page.status_code == 200
    html = page.text
    assert 'type="module" src="/static/js/labs.js"' in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_each_lab_shows_the_real_source_of_its_functions(lab_server: LabServer) -> None:
    from workers.labs import pools

    code = requests.get(f"{lab_server.url}/api/labs/pool", timeout=5).json()["code"]
    names = [fn["name"] for fn in code]
    assert "workers.labs.pools.foo" in names and "workers.labs.pools.main_pool" in names
    import inspect

    assert code[names.index("workers.labs.pools.foo")]["source"] == inspect.getsource(pools.foo)


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/api/labs/nope/runs", {}, 404, "no lab called"),
        ("/api/labs/process/runs", {"processes": 17}, 400, "'processes'"),
        ("/api/labs/process/runs", {"processes": "4"}, 400, "'processes'"),
        ("/api/labs/process/runs", {"seconds": 11}, 400, "'seconds'"),
        ("/api/labs/process/runs", {"time_limit": 0}, 400, "'time_limit'"),
        ("/api/labs/process/runs", {"bogus": 1}, 400, "'bogus'"),
        ("/api/labs/process/runs", [1, 2], 400, "object"),
        ("/api/labs/parent/runs", {"start_method": "fork"}, 400, "'start_method'"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(lab_server: LabServer, path, body, status, needle) -> None:
    answer = requests.post(f"{lab_server.url}{path}", json=body, timeout=5)
    assert answer.status_code == status
    assert needle in answer.json()["error"]


def test_unknown_runs_and_bodies_that_are_not_json_are_4xx(lab_server: LabServer) -> None:
    url = lab_server.url
    assert requests.get(f"{url}/api/labs/runs/nope", timeout=5).status_code == 404
    assert requests.delete(f"{url}/api/labs/runs/nope", timeout=5).status_code == 404
    assert requests.get(f"{url}/api/labs/nope", timeout=5).status_code == 404
    bad = requests.post(
        f"{url}/api/labs/process/runs", data="{", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    text = requests.post(f"{url}/api/labs/process/runs", data="x", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415


# -- the lessons ---------------------------------------------------------------------------
def test_process_lab_sleeps_in_parallel(labs: Labs) -> None:
    run = labs.run("process", {"processes": 4, "seconds": 0.5})
    result = run["result"]
    assert 0.5 <= result["wall"] < 0.5 * 4
    assert sorted(result["finish_order"]) == sorted(result["start_order"])
    hellos = [line for line in run["output"] if line["text"].startswith("hello msc")]
    assert len(hellos) == 4 and {line["pid"] for line in hellos} == set(result["start_order"])
    for item in run["events"] + run["output"]:
        assert "pid" in item and "t" in item
    sleeping = [e for e in run["events"] if e.get("state") == "sleeping"]
    assert {e["pid"] for e in sleeping} == set(result["start_order"])
    # the server waits in p.join(): drawn blocked, as the Pipe and Pool labs draw it
    joins = [e for e in run["events"] if e.get("state") == "blocked" and e["label"].startswith("p.join()")]
    assert len(joins) == 4 and {e["pid"] for e in joins} == {run["server_pid"]}


def test_a_runs_processes_are_in_the_one_process_table_and_their_stacks_can_be_taken(
    labs: Labs, lab_server: LabServer
) -> None:
    """Lab processes report over the same agent channel as workers: listed (role "lab"), ended."""
    run_id = labs.start("process", {"processes": 2, "seconds": 3.0})

    def running_lab_pids() -> set[int]:
        workers = lab_server.get_json("/api/state")["workers"]
        return {w["pid"] for w in workers if w["role"] == "lab" and w["state"] == "running"}

    sleeping = wait_until(
        lambda: [e["pid"] for e in labs.get(run_id)["events"] if e.get("state") == "sleeping"] or None,
        10,
        "a child asleep",
    )
    # every child that reports asleep is in the process table too (its hello may come a moment later)
    wait_until(lambda: set(sleeping) <= running_lab_pids(), 10, "the run's processes in the process table")
    stack = lab_server.get_json(f"/api/workers/{sleeping[0]}/stack")
    assert any(f["function"] == "run" for t in stack["threads"] for f in t["frames"])
    run = labs.wait(run_id)
    ended = {w["pid"]: w for w in lab_server.get_json("/api/state")["workers"] if w["role"] == "lab"}
    for pid in run["result"]["start_order"]:
        assert ended[pid]["state"] == "exited" and ended[pid]["exitcode"] == 0, ended[pid]


def test_threads_lab_pairs_pids_with_thread_idents(labs: Labs) -> None:
    run = labs.run("threads", {"processes": 2, "seconds": 0.1})
    pairs = run["result"]["pairs"]
    assert len({p["pid"] for p in pairs}) == 2
    for pair in pairs:
        assert pair["main_tid"] and pair["thread_tid"] and pair["main_tid"] != pair["thread_tid"]
    thread_rows = {(e["pid"], e["tid"]) for e in run["events"] if e["kind"] == "start"}
    assert {(p["pid"], p["thread_tid"]) for p in pairs} <= thread_rows


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_parent_lab_draws_the_real_process_tree(labs: Labs, lab_server: LabServer, start_method: str) -> None:
    run = labs.run("parent", {"children": 2, "start_method": start_method})
    result = run["result"]
    server = server_pid(lab_server)
    assert result["server_pid"] == server
    tree = {node["pid"]: node for node in result["tree"]}
    children = result["children"]
    assert len(children) == 2
    for child in children:
        parent = tree[child["ppid"]]
        if start_method == "spawn":
            assert child["ppid"] == server  # spawn starts children straight from the server
        else:
            assert parent["ppid"] == server and child["ppid"] != server  # via the fork server
        assert any(line["pid"] == child["pid"] and line["ppid"] == child["ppid"] for line in run["output"])


def test_queue_lab_shows_the_pickling_error_and_a_copy(labs: Labs) -> None:
    result = labs.run("queues")["result"]
    assert result["thread_queue_error"].startswith("TypeError: cannot pickle")
    assert result["reader_got"] == [42, None, "hello"]
    assert result["writer_after_change"] == [42, None, "hello", "changed after put"]


def test_pipe_lab_reports_the_extra_recv_as_blocked(labs: Labs) -> None:
    run = labs.run("pipe", {"messages": 2, "wait": 0.3})
    result = run["result"]
    assert result["blocked"] is True and result["blocked_recv"] == 3
    assert result["blocked_on"] == ["conn.recv() #3"]
    assert result["blocked_for"] >= 0.3
    assert "read-only" in result["one_way_error"]
    texts = [line["text"] for line in run["output"]]
    assert "child got data from parent_conn" in texts


def test_manager_lab_loses_updates_only_without_a_lock(labs: Labs) -> None:
    result = labs.run("manager", {"processes": 3, "racers": 3, "increments": 150, "tries": 3})["result"]
    assert result["dict"] == [[1, "1"], ["2", 2], [0.25, None]]
    assert result["list"][:5] == [0, 1, 2, 3, 4] and len(result["list"]) == 8
    unlocked = [r for r in result["races"] if not r["lock"]]
    locked = [r for r in result["races"] if r["lock"]]
    assert any(r["got"] < r["expected"] for r in unlocked), unlocked
    assert all(r["got"] == r["expected"] for r in locked), locked


def test_lock_lab_keeps_lines_whole_only_with_the_lock(labs: Labs) -> None:
    run = labs.run("lock", {"processes": 3, "lines": 2, "words": 5, "lock": "both"})
    without, with_lock = run["result"]["phases"]
    assert with_lock["lock"] and with_lock["mixed"] == 0 and with_lock["lines"] == 6
    assert not without["lock"] and without["lines"] >= 1


def test_pool_lab_apply_is_a_staircase_apply_async_waves_callback_in_the_server(
    labs: Labs, lab_server: LabServer
) -> None:
    result = labs.run("pool", {"size": 2, "tasks": 4, "seconds": 0.25})["result"]
    server = server_pid(lab_server)
    assert result["callback_pids"] == [server]
    apply, waves = result["phases"]["apply"], result["phases"]["apply_async"]
    assert len(apply["tasks"]) == 4 and apply["overlaps"] == 0
    assert len(waves["tasks"]) == 4 and waves["overlaps"] > 0
    assert result["join_error"] == "ValueError: Pool is still running"
    assert result["forgot_join"]["done"] < result["forgot_join"]["submitted"]


def test_gil_lab_measures_this_machine(labs: Labs) -> None:
    import os

    params = {"jobs": 4, "work": 400_000, "threads": 4, "processes": 2, "io_seconds": 0.25}
    run = labs.run("gil", params)
    result = run["result"]
    assert result["cpu_count"] == os.cpu_count()
    assert [b["name"] for b in result["bars"]] == [
        "CPU, serial",
        "CPU, 4 threads",
        "CPU, 2 processes",
        "IO, serial",
        "IO, 4 threads",
    ]
    io_serial, io_threads = result["bars"][3]["wall"], result["bars"][4]["wall"]
    # four waits of 0.25 s: one after another at least 1 s, side by side in threads far less
    assert io_serial >= 1.0 and io_threads < io_serial - 0.4
    # CPU-bound threads take turns: together they keep about one CPU busy, the others drawn waiting
    assert result["bars"][1]["cpus_busy"] < 1.3
    waiting = {e["tid"] for e in run["events"] if e.get("state") == "waiting_gil"}
    assert waiting, "threads waiting for the GIL are drawn waiting"  # how many: the scheduler decides
    assert "GIL" in result["takeaway"] and f"{result['usable_cpus']} CPU" in result["takeaway"]


# -- supervision ---------------------------------------------------------------------------------
def test_a_run_past_its_time_limit_is_killed_and_says_timeout(labs: Labs) -> None:
    started = time.monotonic()
    run = labs.wait(labs.start("process", {"processes": 2, "seconds": 10, "time_limit": 1}), timeout=15)
    assert run["status"] == "timeout" and "time limit" in run["error"]
    assert time.monotonic() - started < 8
    texts = [line["text"] for line in run["output"]]
    assert texts[-1] == "[mpscope] time limit of 1 s reached: killing the run's processes", texts
    assert not any("done in" in text for text in texts)
    ends = [e for e in run["events"] if e["kind"] == "end" and e.get("process")]
    assert len({e["pid"] for e in ends}) == 2


def test_a_hung_pool_is_stopped_at_its_time_limit(labs: Labs) -> None:
    run = labs.wait(labs.start("pool", {"size": 1, "tasks": 3, "seconds": 2, "time_limit": 1}), timeout=15)
    assert run["status"] == "timeout"


# -- Socket.IO ---------------------------------------------------------------------------------
def subscribe(client: socketio.SimpleClient, run_id: str) -> dict:
    """Join a run's room; return the run as it was then."""
    answer = client.call("lab_subscribe", {"id": run_id}, timeout=5)
    assert answer["status"] == 200
    return answer["run"]


def collect(client: socketio.SimpleClient, snapshot: dict, timeout: float = 20) -> list[dict]:
    """Collect ``lab`` batches until the final one (none if the run had already ended)."""
    batches = []
    deadline = time.monotonic() + timeout
    status = snapshot["status"]
    while status == "running":
        event, payload = client.receive(timeout=max(0.1, deadline - time.monotonic()))
        if event == "lab":
            batches.append(payload)
            status = payload["status"]
    return batches


def test_two_clients_follow_their_own_runs_without_mixing(labs: Labs, lab_server: LabServer) -> None:
    first, second = socketio.SimpleClient(), socketio.SimpleClient()
    first.connect(lab_server.url, transports=["websocket"])
    second.connect(lab_server.url, transports=["websocket"])
    try:
        a = labs.start("process", {"processes": 2, "seconds": 1})
        b = labs.start("threads", {"processes": 2, "seconds": 1})
        snap_a, snap_b = subscribe(first, a), subscribe(second, b)
        got_a, got_b = collect(first, snap_a), collect(second, snap_b)
    finally:
        first.disconnect()
        second.disconnect()
    assert got_a and got_b, "both runs were still going when subscribed: batches must follow"
    assert {batch["id"] for batch in got_a} == {a} and {batch["id"] for batch in got_b} == {b}
    for run_id, snap, got in ((a, snap_a, got_a), (b, snap_b, got_b)):
        final = labs.wait(run_id)
        events = {e["n"]: e for e in snap["events"]}
        for batch in got:
            events.update({e["n"]: e for e in batch["events"]})
        assert [events[n] for n in sorted(events)] == final["events"]
        assert got[-1]["status"] == "done" and got[-1]["result"] == final["result"]


def test_a_run_can_be_stopped_over_the_socket(labs: Labs, lab_server: LabServer) -> None:
    client = socketio.SimpleClient()
    client.connect(lab_server.url, transports=["websocket"])
    try:
        run_id = labs.start("process", {"processes": 2, "seconds": 8})
        wait_until(
            lambda: len([e for e in labs.get(run_id)["events"] if e.get("state") == "sleeping"]) == 2,
            10,
            "both processes to sleep",
        )
        assert client.call("lab_stop", {"id": run_id}, timeout=5)["status"] == 202
        assert client.call("lab_stop", {"id": "nope"}, timeout=5)["status"] == 404
    finally:
        client.disconnect()
    run = labs.wait(run_id, timeout=10)
    assert run["status"] == "stopped" and run["error"] == "stopped by the user"
    texts = [line["text"] for line in run["output"]]
    assert texts[-1] == "[mpscope] stopped by the user: killing the run's processes", texts
    assert not any("done in" in text for text in texts)  # its processes were killed, not done


def test_the_server_log_has_one_line_per_run_start_and_end(labs: Labs, lab_server: LabServer) -> None:
    run_id = labs.run("queues")["id"]
    lines = [line for line in lab_server.log().splitlines() if run_id in line]
    assert len(lines) == 2 and "started" in lines[0] and " done in " in lines[1]


def test_stopping_the_server_mid_run_leaves_no_process(tmp_path) -> None:
    server = LabServer(tmp_path)
    try:
        labs = Labs(server)
        run_id = labs.start("pool", {"size": 2, "tasks": 4, "seconds": 2})
        wait_until(lambda: any(e.get("task") is not None for e in labs.get(run_id)["events"]), 15, "a task")
        server.track_descendants()  # remember the pool's workers, to check they are gone too
    finally:
        server.stop()  # SIGTERM; asserts a clean exit, no errors logged and no process left


def test_old_finished_runs_are_dropped_past_the_cap() -> None:
    from webapp.labs.run import DONE, LabRun
    from webapp.labs.runner import LabRunner

    runner = LabRunner(ctx=None, emit=lambda *a: None, keep=3)
    for i in range(5):
        run = LabRun(f"r{i}", "process", {}, lambda *a: None)
        run.status = DONE
        runner.runs[run.id] = (run, None)
    runner._trim()
    assert list(runner.runs) == ["r2", "r3", "r4"]
