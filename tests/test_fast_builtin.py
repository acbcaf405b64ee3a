"""Fast: the REST API and the Socket.IO commands of the built-in mode, in process, on real parts.

``app`` (tests/conftest.py) is ``create_app`` with the built-in back end: a real recording
Manager and real forkserver workers, reaped when the test ends. Only the server is in
this process: requests go through Flask's test client, events through Flask-SocketIO's.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
from inprocess import received, wait_event

from testkit.waiting import wait_for

pytestmark = pytest.mark.fast


def worker(client, pid: int) -> dict:
    answer = client.get(f"/api/workers/{pid}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def spawn(client, count: int = 1, task: str = "append_pid", **params) -> list[int]:
    answer = client.post("/api/workers", json={"count": count, "task": task, "params": params})
    assert answer.status_code == 201, answer.get_json()
    return [w["pid"] for w in answer.get_json()["workers"]]


def ended(client, pid: int) -> dict:
    return wait_for(lambda: (w := worker(client, pid))["ended_at"] is not None and w, what=f"{pid} to end")


def shared_list(client) -> list:
    return client.get("/api/state?fields=list").get_json()["list"]


def test_healthz_reports_the_manager_and_this_server(client):
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["server_pid"] == os.getpid()
    assert psutil.pid_exists(health["manager_pid"]) and health["manager_restarts"] == 0
    assert health["workers"] == 0 and isinstance(health["version"], int)


def test_state_the_servers_copy_its_fields_and_the_managers_own(client):
    whole = client.get("/api/state")
    assert whole.status_code == 200 and whole.mimetype == "application/json"
    state = whole.get_json()
    assert state["list"] == [] and state["dict"] == [] and state["workers"] == []  # dict: [key, value] pairs
    assert state["manager"]["state"] == "running" and state["read_only"] is False
    assert client.get("/api/state?fields=version,list").get_json() == {
        "version": state["version"],
        "list": [],
    }
    manager = client.get("/api/state?source=manager").get_json()
    assert set(manager) == {"version", "list", "dict", "objects"}
    assert manager["list"] == [] and manager["dict"] == []


def test_a_spawned_worker_appears_writes_and_is_killed(client):
    (pid,) = spawn(client, interval=0.05)
    wait_for(lambda: worker(client, pid)["state"] == "running", what="the worker to run")
    assert client.get("/healthz").get_json()["workers"] == 1

    def written() -> bool:  # l.append(pid); d[pid] = ...
        state = client.get("/api/state?fields=list,dict").get_json()
        return pid in state["list"] and pid in [key for key, _ in state["dict"]]

    wait_for(written, what="the worker's PID in the shared list and dict")

    killed = client.delete(f"/api/workers/{pid}")
    assert killed.status_code == 202 and killed.get_json()["signal"] == "SIGTERM"
    info = ended(client, pid)
    assert info["signal"] == "SIGTERM" and not psutil.pid_exists(pid)  # reaped
    # a worker that ended is not killed again: 404, and nothing is sent
    assert client.delete(f"/api/workers/{pid}").status_code == 404

    cleared = client.delete("/api/workers?state=ended")
    assert cleared.status_code == 200 and cleared.get_json()["cleared"] == [pid]
    assert client.get(f"/api/workers/{pid}").status_code == 404


def test_output_of_a_worker_is_read_by_line(client):
    (pid,) = spawn(client, task="printer", lines=3)
    ended(client, pid)
    output = wait_for(
        lambda: (o := client.get(f"/api/workers/{pid}/output").get_json())["total"] >= 3 and o,
        what="three lines of output",
    )
    assert len(output["lines"]) == output["total"] and output["dropped"] == 0
    assert client.get(f"/api/workers/{pid}/output?since=1").get_json()["lines"] == output["lines"][1:]
    assert client.get(f"/api/workers/{pid}/output?since=99").status_code == 400


def test_kill_all_and_the_stack_of_a_live_worker(client):
    pids = spawn(client, 2, task="sleep", seconds=60)
    wait_for(lambda: all(worker(client, p)["state"] == "running" for p in pids), what="both to run")
    stack = client.get(f"/api/workers/{pids[0]}/stack")
    assert stack.status_code == 200 and stack.get_json()["threads"]
    answer = client.delete("/api/workers?state=running&signal=KILL")
    assert answer.status_code == 202 and sorted(answer.get_json()["killed"]) == sorted(pids)
    assert all(ended(client, p)["signal"] == "SIGKILL" for p in pids)


def test_objects_are_read_one_by_one_and_paged(client):
    (pid,) = spawn(client, task="fill", n=30, target="list")
    ended(client, pid)
    objects = client.get("/api/state?fields=objects").get_json()["objects"]
    (lid,) = [oid for oid, obj in objects.items() if obj["kind"] == "list"]
    wait_for(lambda: len(client.get(f"/api/objects/{lid}").get_json()["value"]) == 30, what="30 items")
    page = client.get(f"/api/objects/{lid}?offset=10&limit=5").get_json()
    assert page["total"] == 30 and len(page["value"]) == 5
    assert client.get(f"/api/objects/{lid}?fields=kind").get_json() == {"kind": "list"}


def test_a_dead_holders_lock_is_listed_and_released(client):
    (holder,) = spawn(client, task="hold_lock", lock="L", seconds=3600)

    def held() -> list:
        locks = client.get("/api/locks").get_json()["locks"]
        return locks if locks and locks[0]["holder_pid"] == holder else []

    locks = wait_for(held, what="the lock to be held")
    assert locks[0]["name"] == "L" and locks[0]["holder_alive"] is True
    refused = client.post("/api/locks/L/release")
    assert refused.status_code == 409 and "alive" in refused.get_json()["error"]  # a live holder keeps it
    client.delete(f"/api/workers/{holder}?signal=KILL")
    ended(client, holder)
    released = client.post("/api/locks/L/release")
    assert released.status_code == 200 and released.get_json() == {"released": "L", "holder_pid": holder}
    wait_for(
        lambda: client.get("/api/locks").get_json()["locks"][0]["holder_pid"] is None, what="the release"
    )
    assert client.post("/api/locks/L/release").status_code == 409  # not held any more


def test_reset_empties_the_shared_dict_and_list(client):
    (pid,) = spawn(client, task="fill", n=5, target="list")
    ended(client, pid)
    wait_for(lambda: len(shared_list(client)) == 5, what="five items")
    answer = client.post("/api/state/reset")
    assert answer.status_code == 200 and isinstance(answer.get_json()["version"], int)
    wait_for(lambda: shared_list(client) == [], what="the reset")
    assert client.get("/api/state?source=manager").get_json()["list"] == []


def test_the_pages_and_the_tasks(client):
    page = client.get("/")
    assert page.status_code == 200 and b"<html" in page.data.lower()
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    tasks = client.get("/api/tasks").get_json()
    assert {"append_pid", "sleep", "hold_lock"} <= {t["name"] for t in tasks}
    assert client.get("/api/pool-tasks").get_json() == {"tasks": []}


# -- Socket.IO -----------------------------------------------------------------------------------
def test_connect_sends_a_snapshot(socket_client):
    snapshot = wait_event(socket_client, "snapshot")
    assert {"version", "objects", "workers", "locks", "manager", "limits"} <= set(snapshot)
    assert snapshot["workers"] == [] and snapshot["manager"]["state"] == "running"


def test_spawn_and_kill_events_answer_and_broadcast(socket_client):
    answer = socket_client.emit(
        "spawn", {"count": 1, "task": "sleep", "params": {"seconds": 60}}, callback=True
    )
    assert answer["status"] == 201
    pid = answer["workers"][0]["pid"]

    def running(payload: dict) -> bool:
        return any(w["pid"] == pid and w["state"] == "running" for w in payload["workers"])

    wait_event(socket_client, "workers", running)
    answer = socket_client.emit("kill", {"pid": pid, "signal": "INT"}, callback=True)
    assert answer["status"] == 202 and answer["signal"] == "SIGINT"

    def gone(payload: dict) -> bool:
        return any(w["pid"] == pid and w["ended_at"] is not None for w in payload["workers"])

    wait_event(socket_client, "workers", gone)
    assert socket_client.emit("clear", None, callback=True) == {"status": 200, "cleared": [pid]}
    wait_event(socket_client, "workers", lambda payload: pid in payload["removed"])


def test_changes_follow_the_snapshot_and_resync_sends_another(socket_client):
    first = wait_event(socket_client, "snapshot")
    spawned = socket_client.emit("spawn", {"task": "fill", "params": {"n": 3}}, callback=True)
    assert spawned["status"] == 201
    wait_event(socket_client, "changes", lambda batch: batch["to"] > first["version"])
    assert socket_client.emit("resync", None, callback=True) == {"status": 200}
    wait_for(lambda: len(received(socket_client, "snapshot")) == 2, what="a second snapshot")
    answer = socket_client.emit("reset", None, callback=True)
    assert answer["status"] == 200 and answer["version"] > first["version"]


def test_a_sleeping_worker_says_what_it_waits_on_and_a_busy_one_nothing(client):
    from workers import tasks

    source = Path(tasks.__file__).read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "time.sleep(seconds)" in text)
    (sleeper,) = spawn(client, task="sleep", seconds=30)
    waiting = wait_for(lambda: worker(client, sleeper)["waiting"], what="the sleeper's wait")
    assert waiting["text"] == f"sleep() · tasks.py:{line}" and waiting["call"] == "sleep", waiting
    (busy,) = spawn(client, task="cpu", seconds=30)
    wait_for(lambda: worker(client, busy)["cpu_percent"] > 20, what="the cpu worker busy")
    assert worker(client, busy)["waiting"] is None
    client.delete(f"/api/workers/{sleeper}?signal=KILL")
    assert ended(client, sleeper)["waiting"] is None


def test_a_stack_says_whose_code_each_frame_is(client):
    (sleeper,) = spawn(client, task="sleep", seconds=30)
    wait_for(lambda: worker(client, sleeper)["waiting"], what="the sleeper inside its task")
    answer = client.get(f"/api/workers/{sleeper}/stack")
    assert answer.status_code == 200, answer.get_json()
    (main,) = [t for t in answer.get_json()["threads"] if t["name"] == "MainThread"]
    kinds = {Path(f["file"]).name: f["kind"] for f in main["frames"]}
    assert kinds["tasks.py"] == "program" and kinds["bootstrap.py"] == "mpscope", kinds
    assert kinds["process.py"] == "library"  # multiprocessing's own
    assert main["frames"][-1]["function"] == "sleep"  # innermost last, as before
    client.delete(f"/api/workers/{sleeper}?signal=KILL")
    ended(client, sleeper)
