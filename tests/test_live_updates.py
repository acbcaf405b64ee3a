"""What a connected page sees over Socket.IO: a snapshot, then every change pushed as it happens."""

from __future__ import annotations

import time

import psutil
from support import ENDED, MAX_WORKERS, Api, LiveClient


def appended(client: LiveClient) -> dict[int, dict]:
    """List-append ops seen so far, by the value appended."""
    return {op["value"]: op for op in client.ops() if op["target"] == "list" and op["op"] == "append"}


def test_a_new_client_first_gets_a_snapshot_shaped_like_the_rest_state(api: Api, sio: LiveClient):
    snapshot = sio.received("snapshot")[0]
    state = api.state()
    # the socket sends each object once: d and l only in objects, not again as REST's list/dict/writers
    assert set(snapshot) == set(state) - {"list", "dict", "writers"}
    assert snapshot["objects"]["l"]["value"] == [] and snapshot["objects"]["d"]["value"] == []
    assert snapshot["workers"] == []
    assert snapshot["version"] <= state["version"]


def test_rest_state_keeps_list_dict_and_writers_as_objects_d_and_l(api: Api, sio: LiveClient):
    pids = [w["pid"] for w in api.spawn(2, "fill", n=50, target="list")]
    pids += [w["pid"] for w in api.spawn(1, "fill", n=20, target="dict")]
    api.wait_all_ended(pids)
    state = api.wait_settled()
    objects = state["objects"]
    assert len(state["list"]) == 100 and len(state["dict"]) == 20
    assert state["list"] == objects["l"]["value"] and state["dict"] == objects["d"]["value"]
    assert state["writers"] == {"list": objects["l"]["writers"], "dict": objects["d"]["writers"]}
    fields = api.get_json("/api/state?fields=version,list,dict,writers")
    assert set(fields) == {"version", "list", "dict", "writers"}
    if fields["version"] == state["version"]:
        assert (fields["list"], fields["dict"], fields["writers"]) == (
            state["list"],
            state["dict"],
            state["writers"],
        )
    # a client's snapshot from now on holds the same objects, each once
    assert sio.call("resync") == {"status": 200}
    snapshot = sio.wait(lambda: len(s := sio.received("snapshot")) == 2 and s[1], what="a second snapshot")
    assert "list" not in snapshot and "dict" not in snapshot and "writers" not in snapshot
    assert snapshot["objects"]["l"]["value"] == state["list"]
    assert snapshot["objects"]["d"]["writers"] == state["writers"]["dict"]


def test_spawned_workers_pids_arrive_as_changes_written_by_those_workers(api: Api, sio: LiveClient):
    before = time.time()
    pids = [w["pid"] for w in api.spawn(3)]
    ops = sio.wait(lambda: set(pids) <= set(a := appended(sio)) and a, what="3 list appends")
    for pid in pids:
        op = ops[pid]
        assert op["pid"] == pid  # the writer is the worker itself
        assert before <= op["t"] <= time.time()
        assert isinstance(op["seq"], int)

    def first_dict_writes() -> dict:
        writes: dict = {}
        for op in sio.ops():
            if op["target"] == "dict" and op["key"] in pids:
                writes.setdefault(op["key"], op)
        return len(writes) == 3 and writes

    dict_writes = sio.wait(first_dict_writes, what="each worker's first dict write")
    for key, op in dict_writes.items():
        assert op["op"] == "set" and op["pid"] == key and op["value"]["ticks"] == 0
    assert set(pids) <= set(api.state()["list"])
    assert set(pids) <= api.server.descendant_pids()


def test_changes_batches_are_versioned_without_gaps(api: Api, sio: LiveClient):
    pids = [w["pid"] for w in api.spawn(2, "burst", n=300)]
    api.wait_all_ended(pids)
    final = api.state(source="manager")["version"]
    sio.wait(lambda: sio.replica.version == final, what=f"version {final}")
    batches = sorted(sio.received("changes"), key=lambda b: b["from"])
    start = sio.received("snapshot")[0]["version"]
    batches = [b for b in batches if b["to"] > start]
    assert batches[0]["from"] <= start
    for previous, batch in zip(batches, batches[1:], strict=False):
        assert batch["from"] == previous["to"]
    for batch in batches:
        seqs = [op["seq"] for op in batch["ops"]]
        assert seqs == list(range(batch["from"] + 1, batch["to"] + 1))
        for op in batch["ops"]:
            assert {"seq", "target", "op", "pid", "t"} <= set(op) and op["target"] in ("dict", "list", "lock")
    assert batches[-1]["to"] == final


def test_workers_events_follow_a_worker_from_start_to_kill_to_clear(api: Api, sio: LiveClient):
    (worker,) = api.spawn(1, "sleep", seconds=60)
    pid = worker["pid"]
    sio.wait(lambda: sio.workers.get(pid, {}).get("state") == "running", what="running in a workers event")
    assert api.kill(pid, "KILL").status_code == 202
    info = sio.wait(lambda: (w := sio.workers.get(pid)) and w["state"] in ENDED and w, what="ended")
    assert info["state"] == "killed" and info["signal"] == "SIGKILL"
    assert api.request("DELETE", "/api/workers", params={"state": "ended"}).status_code == 200
    sio.wait(lambda: pid in sio.removed, what="the worker in a workers event's removed list")
    assert pid not in sio.workers


def test_spawn_and_kill_from_the_socket_are_acknowledged_like_rest(api: Api, sio: LiveClient):
    ack = sio.call("spawn", {"count": 2, "task": "sleep", "params": {"seconds": 60}})
    assert ack["status"] == 201 and len(ack["workers"]) == 2
    pids = [w["pid"] for w in ack["workers"]]
    for pid in pids:
        api.server.track(pid)
        assert api.worker(pid)["task"] == "sleep"
    ack = sio.call("kill", {"pid": pids[0], "signal": "KILL"})
    assert ack["status"] == 202 and ack["signal"] == "SIGKILL" and ack["worker"]["pid"] == pids[0]
    assert api.wait_worker(pids[0], ENDED)["signal"] == "SIGKILL"
    ack = sio.call("kill", {"pid": str(pids[1])})  # a numeric string works; TERM by default
    assert ack["status"] == 202 and ack["signal"] == "SIGTERM"
    assert api.wait_worker(pids[1], ENDED)["signal"] == "SIGTERM"


def test_kill_all_clear_and_reset_from_the_socket(api: Api, sio: LiveClient):
    pids = [w["pid"] for w in sio.call("spawn", {"count": 2})["workers"]]
    for pid in pids:
        api.server.track(pid)
    sio.wait(lambda: set(pids) <= set(sio.replica.list), what="the PIDs in the replica")
    ack = sio.call("kill_all", {"signal": "KILL"})
    assert ack["status"] == 202 and sorted(ack["killed"]) == sorted(pids)
    api.wait_all_ended(pids)
    ack = sio.call("clear")
    assert ack["status"] == 200 and sorted(ack["cleared"]) == sorted(pids)
    ack = sio.call("reset")
    assert ack["status"] == 200 and isinstance(ack["version"], int)
    sio.wait(lambda: sio.replica.version >= ack["version"], what="the reset to arrive")
    assert sio.replica.list == [] and sio.replica.dict == []
    assert api.state()["workers"] == []


def test_refused_socket_commands_ack_the_rest_error_and_change_nothing(api: Api, sio: LiveClient):
    (sleeper,) = api.spawn(1, "sleep", seconds=60)
    version = api.version()
    health = api.health()
    refusals = [
        ("spawn", {"count": 0}, 400, "'count'"),
        ("spawn", {"task": "nope"}, 400, "unknown task"),
        ("spawn", {"task": "sleep", "params": {"seconds": "x"}}, 400, "'seconds'"),
        ("spawn", "not an object", 400, "JSON object"),
        ("spawn", {"count": MAX_WORKERS}, 409, f"at most {MAX_WORKERS} may run at once"),
        ("kill", {"pid": 1, "signal": "KILL"}, 404, "no running worker"),
        ("kill", {"pid": api.server.pid}, 404, "no running worker"),
        ("kill", {"pid": health["manager_pid"]}, 404, "no running worker"),
        ("kill", {"pid": "abc"}, 400, "'pid'"),
        ("kill", {"pid": "²"}, 400, "'pid'"),
        ("kill", {"pid": True}, 400, "'pid'"),
        ("kill", {"pid": 1.5}, 400, "'pid'"),
        ("kill", {}, 400, "'pid'"),
        ("kill", "nonsense", 400, "'pid'"),
        ("kill", {"pid": sleeper["pid"], "signal": "HUP"}, 400, "'signal'"),
        ("kill_all", {"signal": "STOP"}, 400, "'signal'"),
    ]
    for event, data, status, named in refusals:
        ack = sio.call(event, data)
        assert ack["status"] == status and named in ack["error"], (event, data, ack)
    assert api.version() == version
    assert api.worker(sleeper["pid"])["state"] == "running"
    assert psutil.Process(api.server.pid).is_running()


def test_resync_sends_a_fresh_snapshot(api: Api, sio: LiveClient):
    pids = [w["pid"] for w in api.spawn(1)]
    sio.wait(lambda: set(pids) <= set(sio.replica.list), what="the PID in the replica")
    assert sio.call("resync") == {"status": 200}
    snapshot = sio.wait(lambda: len(s := sio.received("snapshot")) == 2 and s[1], what="a second snapshot")
    assert pids[0] in snapshot["objects"]["l"]["value"] and pids[0] in {w["pid"] for w in snapshot["workers"]}


def without_liveness(locks) -> list[dict]:
    return [{k: v for k, v in lock.items() if k != "holder_alive"} for lock in locks]


def test_a_client_rebuilding_state_from_events_matches_the_server_and_the_manager(api: Api, sio: LiveClient):
    workers = api.spawn(2, "burst", n=2000) + api.spawn(2, "burst", n=2000, target="list")
    workers += api.spawn(2, "counter", n=300, lock=True)
    late = LiveClient(api.url)  # joins while the load runs: snapshot mid-stream, then changes
    try:
        for info in api.wait_all_ended([w["pid"] for w in workers], timeout=60):
            assert info["exitcode"] == 0, info
        manager = api.state(source="manager")
        assert len(manager["list"]) == 4000 and len(manager["dict"]) == 2 * 100 + 1
        state = api.wait_version(manager["version"])
        for client in (sio, late):
            client.wait(lambda c=client: c.replica.version == manager["version"], 30, "the last change")
            with client.cond:
                assert client.replica.list == state["list"] == manager["list"]
                assert client.replica.dict == state["dict"] == manager["dict"]
                # holder_alive is the server's judgement when it sent a snapshot, not a replayed change
                assert without_liveness(client.replica.locks.values()) == without_liveness(state["locks"])
    finally:
        late.close()
