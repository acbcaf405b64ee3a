"""Inside a worker: its output line by line, its stack on demand, and who holds which lock."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from support import Api, LiveClient, wait_for

from testkit.server import Server


def unique(prefix: str) -> str:
    """A lock name no other test uses (locks outlive a state reset)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def roomy_server(tmp_path: Path):
    """A private server whose scrollback holds 20,000 lines per worker."""
    srv = Server(tmp_path, "--rate-limit", "0", "--scrollback", "20000", max_workers=4)
    yield srv
    srv.stop()


def test_ten_thousand_printed_lines_all_arrive_in_order_live_and_over_rest(roomy_server):
    api = Api(roomy_server)
    client = LiveClient(api.url)
    try:
        pid = api.spawn(1, "printer", lines=10_000)[0]["pid"]

        def live_lines() -> list[dict]:
            return [
                line for batch in client.received("output") for line in batch["lines"] if line["pid"] == pid
            ]

        client.wait(lambda: len(live_lines()) >= 10_000, timeout=30, what="10,000 output lines")
        # python-socketio hands each message to its own thread, so batches may be recorded
        # out of order; the server numbers lines in the order it read them
        lines = sorted(live_lines(), key=lambda line: line["n"])
        assert len({line["n"] for line in lines}) == len(lines), "a line arrived twice"
        stdout = [line["text"] for line in lines if line["stream"] == "stdout"]
        assert stdout == [f"line {n} from {pid}" for n in range(1, 10_001)]

        api.wait_worker(pid, ("exited",))
        answer = api.get_json(f"/api/workers/{pid}/output?since=0")
        assert answer["dropped"] == 0
        assert [line["text"] for line in answer["lines"]] == [
            f"line {n} from {pid}" for n in range(1, 10_001)
        ]
        tail = api.get_json(f"/api/workers/{pid}/output?since=9990")
        assert [line["n"] for line in tail["lines"]] == list(range(9991, 10_001))
    finally:
        client.close()
        api.close()


def test_stderr_lines_are_marked_as_stderr(api: Api, sio: LiveClient):
    pid = api.spawn(1, "printer", lines=3, stream="both")[0]["pid"]
    api.wait_worker(pid, ("exited",))
    answer = wait_for(
        lambda: (a := api.get_json(f"/api/workers/{pid}/output")) and len(a["lines"]) == 6 and a,
        what="six output lines",
    )
    streams = {(line["stream"], line["text"]) for line in answer["lines"]}
    assert ("stderr", f"line 2 from {pid} (stderr)") in streams
    assert ("stdout", f"line 2 from {pid}") in streams


def test_a_worker_that_prints_one_line_and_exits_at_once_keeps_its_line(api: Api):
    pid = api.spawn(1, "printer", lines=1)[0]["pid"]
    info = api.wait_worker(pid, ("exited",))
    assert info["exitcode"] == 0
    answer = wait_for(lambda: api.get_json(f"/api/workers/{pid}/output")["lines"], what="the line")
    assert [line["text"] for line in answer] == [f"line 1 from {pid}"]


def test_scrollback_is_bounded_and_says_how_many_lines_were_dropped(api: Api):
    pid = api.spawn(1, "printer", lines=2500)[0]["pid"]
    api.wait_worker(pid, ("exited",))
    answer = wait_for(
        lambda: (a := api.get_json(f"/api/workers/{pid}/output")) and a["total"] == 2500 and a,
        what="all 2,500 lines counted",
    )
    assert len(answer["lines"]) == 2000
    assert answer["dropped"] == 500
    assert answer["lines"][0]["n"] == 501


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/workers/1/output", 404),
        ("/api/workers/abc/output", 400),
        ("/api/workers/99999999999/output", 400),
        ("/api/workers/1/stack", 404),
        ("/api/workers/-5/stack", 400),
    ],
)
def test_output_and_stack_of_a_process_that_is_not_ours_are_client_errors(api: Api, path: str, status: int):
    response = api.request("GET", path)
    assert response.status_code == status
    assert "error" in response.json()


def test_a_huge_or_negative_since_is_a_client_error(api: Api):
    pid = api.spawn(1, "printer", lines=2)[0]["pid"]
    api.wait_worker(pid, ("exited",))
    for since in ("99999999999999999999", "-1", "x", "100"):
        response = api.request("GET", f"/api/workers/{pid}/output", params={"since": since})
        assert response.status_code == 400, (since, response.text)


def test_the_stack_of_a_sleeping_worker_shows_the_sleeping_frame_in_its_task(api: Api):
    pid = api.spawn(1, "sleep", seconds=30)[0]["pid"]
    api.wait_worker(pid, ("running",))
    answer = api.get_json(f"/api/workers/{pid}/stack")
    assert answer["pid"] == pid
    main = next(t for t in answer["threads"] if t["name"] == "MainThread")
    innermost = main["frames"][-1]
    assert innermost["function"] == "sleep"
    assert innermost["file"].endswith(os.path.join("workers", "tasks.py"))
    assert innermost["code"] == "time.sleep(seconds)"
    assert api.worker(pid)["state"] == "running"  # asking did not stop it


def test_a_stack_request_for_pid_1_or_the_server_itself_is_a_404(api: Api):
    for pid in (1, api.server.pid, api.health()["manager_pid"]):
        response = api.request("GET", f"/api/workers/{pid}/stack")
        assert response.status_code == 404


def locks_by_name(api: Api) -> dict[str, dict]:
    return {lock["name"]: lock for lock in api.get_json("/api/locks")["locks"]}


def test_the_lock_table_shows_the_holder_and_the_waiter_until_the_holder_releases(api: Api):
    # counter takes the lock named "counter"; nothing else in the suite holds it for long
    holder = api.spawn(1, "hold_lock", lock="counter", seconds=1.5)[0]["pid"]
    wait_for(lambda: locks_by_name(api).get("counter", {}).get("holder_pid") == holder, what="the holder")
    waiter = api.spawn(1, "counter", n=50, lock=True)[0]["pid"]
    table = wait_for(
        lambda: (lock := locks_by_name(api)["counter"]) and waiter in lock["waiters"] and lock,
        what="the waiter",
    )
    assert table["holder_pid"] == holder and table["holder_alive"] is True
    assert table["held_since"] is not None
    assert api.wait_worker(holder, ("exited",))["exitcode"] == 0
    assert api.wait_worker(waiter, ("exited",))["exitcode"] == 0
    # the Manager has every increment once the waiter exits; the page's copy follows it
    assert dict(api.state("manager")["dict"])["counter"] == 50
    wait_for(lambda: locks_by_name(api)["counter"]["holder_pid"] is None, what="the lock to be free")


def test_two_workers_that_wait_for_each_others_locks_are_reported_as_a_deadlock_cycle(api: Api):
    first, second = unique("a"), unique("b")
    one = api.spawn(1, "deadlock", first=first, second=second, pause=0.3)[0]["pid"]
    two = api.spawn(1, "deadlock", first=second, second=first, pause=0.3)[0]["pid"]

    def cycle() -> dict | None:
        for found in api.get_json("/api/locks")["deadlocks"]:
            if set(found["pids"]) == {one, two}:
                return found
        return None

    found = wait_for(cycle, what="the deadlock cycle")
    assert set(found["locks"]) == {first, second}


def test_a_lock_whose_holder_died_is_shown_dead_and_can_be_released(api: Api):
    name = unique("held")
    holder = api.spawn(1, "hold_lock", lock=name, seconds=60)[0]["pid"]
    wait_for(lambda: locks_by_name(api).get(name, {}).get("holder_pid") == holder, what="the holder")
    refused = api.request("POST", f"/api/locks/{name}/release")
    assert refused.status_code == 409  # the holder is alive: not ours to take
    waiter = api.spawn(1, "hold_lock", lock=name, seconds=0)[0]["pid"]
    wait_for(lambda: waiter in locks_by_name(api)[name]["waiters"], what="the waiter")

    assert api.kill(holder, "KILL").status_code == 202
    api.wait_worker(holder, ("killed",))
    assert locks_by_name(api)[name]["holder_alive"] is False
    released = api.request("POST", f"/api/locks/{name}/release")
    assert released.status_code == 200, released.text
    assert api.wait_worker(waiter, ("exited",))["exitcode"] == 0  # it got the lock and went on


def test_a_worker_killed_while_waiting_is_never_handed_the_lock(api: Api):
    name = unique("wait")
    holder = api.spawn(1, "hold_lock", lock=name, seconds=1.0)[0]["pid"]
    wait_for(lambda: locks_by_name(api).get(name, {}).get("holder_pid") == holder, what="the holder")
    waiter = api.spawn(1, "hold_lock", lock=name, seconds=0)[0]["pid"]
    wait_for(lambda: waiter in locks_by_name(api)[name]["waiters"], what="the waiter")
    assert api.kill(waiter, "KILL").status_code == 202
    api.wait_worker(waiter, ("killed",))
    wait_for(lambda: waiter not in locks_by_name(api)[name]["waiters"], what="the dead waiter to be dropped")
    api.wait_worker(holder, ("exited",))
    wait_for(lambda: locks_by_name(api)[name]["holder_pid"] is None, what="the lock to be free")
