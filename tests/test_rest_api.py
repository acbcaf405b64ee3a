"""The JSON API against a real server: workers start, show up in the state, and die when told."""

from __future__ import annotations

import psutil
import pytest
from support import ENDED, LIVE, MAX_WORKERS, Api, descendant_pids, wait_for

WORKER_FIELDS = {
    "pid",
    "ppid",
    "task",
    "state",
    "started_at",
    "ended_at",
    "exitcode",
    "signal",
    "cpu_percent",
    "rss",
}


def dict_of(state: dict) -> dict:
    """The shared dict as a Python dict, for pairs whose keys are plain JSON values."""
    return {k: v for k, v in state["dict"]}


def test_health_check_reports_ok_and_the_manager(api: Api):
    health = api.health()
    assert health["status"] == "ok"
    assert health["manager_restarts"] == 0
    assert health["manager_pid"] in descendant_pids(api.server)
    assert health["server_pid"] == api.server.pid


def test_empty_state_has_the_documented_shape(api: Api):
    state = api.state()
    assert {"version", "list", "dict", "workers"} <= set(state)
    assert isinstance(state["version"], int)
    assert state["list"] == [] and state["dict"] == [] and state["workers"] == []
    manager = api.state(source="manager")
    assert manager == {"version": state["version"], "list": [], "dict": [], "objects": manager["objects"]}
    objects = manager["objects"]
    assert (objects["d"]["kind"], objects["d"]["value"]) == ("dict", [])
    assert (objects["l"]["kind"], objects["l"]["value"]) == ("list", [])


def test_spawned_workers_append_their_pids_and_are_children_of_the_server(api: Api):
    started = api.spawn(3)  # default task append_pid
    pids = [w["pid"] for w in started]
    assert len(set(pids)) == 3
    for info in started:
        assert set(info) >= WORKER_FIELDS
        assert info["task"] == "append_pid" and info["state"] in LIVE

    state = wait_for(lambda: sorted((s := api.state())["list"]) == sorted(pids) and s, what="PIDs listed")
    entries = wait_for(lambda: set(pids) <= set(d := dict_of(api.state())) and d, what="3 dict entries")
    for pid in pids:
        assert entries[pid]["ticks"] >= 0
    descendants = descendant_pids(api.server)
    assert set(pids) <= descendants
    for info in state["workers"]:
        assert info["ppid"] in descendants  # the forkserver, itself the server's child
        assert psutil.Process(info["pid"]).ppid() == info["ppid"]


def test_running_workers_show_their_memory_use(api: Api):
    (worker,) = api.spawn(1, "sleep", seconds=60)
    info = wait_for(lambda: (w := api.worker(worker["pid"]))["rss"] and w, what="an RSS sample")
    assert info["state"] == "running" and info["rss"] > 1_000_000
    assert isinstance(info["cpu_percent"], float)


@pytest.mark.parametrize(
    "sig, expected",
    [("TERM", "SIGTERM"), ("KILL", "SIGKILL"), ("INT", "SIGINT"), (None, "SIGTERM"), ("sigkill", "SIGKILL")],
)
def test_killing_a_worker_ends_it_with_that_signal(api: Api, sig, expected):
    (worker,) = api.spawn(1)
    pid = worker["pid"]
    process = psutil.Process(pid)
    api.wait_worker(pid, ("running",))
    response = api.kill(pid, sig)
    assert response.status_code == 202, response.text
    assert response.json()["signal"] == expected and response.json()["worker"]["pid"] == pid
    info = api.wait_worker(pid, ENDED)
    assert info["state"] == "killed" and info["signal"] == expected
    assert info["exitcode"] is None and info["ended_at"] >= info["started_at"]
    wait_for(lambda: not process.is_running() or process.status() == psutil.STATUS_ZOMBIE, what="exit")
    wait_for(lambda: pid not in descendant_pids(api.server), what=f"worker {pid} reaped")


def test_a_crashing_worker_shows_its_traceback(api: Api):
    (worker,) = api.spawn(1, "crash", seconds=0)
    info = api.wait_worker(worker["pid"], ENDED)
    assert info["state"] == "exited" and info["exitcode"] == 1 and info["signal"] is None
    assert "RuntimeError" in info["error"] and "crashed on purpose" in info["error"]
    assert info["error"].startswith("Traceback")


def test_a_worker_that_returns_exits_with_code_0(api: Api):
    (worker,) = api.spawn(1, "sleep", seconds=0)
    info = api.wait_worker(worker["pid"], ENDED)
    assert info["state"] == "exited" and info["exitcode"] == 0 and info["error"] is None


def counter_run(api: Api, lock: bool) -> int:
    """Run 4 counter workers of 2000 increments each; return the Manager's final d["counter"]."""
    api.reset()
    workers = api.spawn(4, "counter", n=2000, lock=lock)
    for info in api.wait_all_ended([w["pid"] for w in workers], timeout=60):
        assert info["state"] == "exited" and info["exitcode"] == 0, info
    return dict_of(api.state(source="manager"))["counter"]


def test_counter_without_the_lock_loses_updates(api: Api):
    finals = []
    for _ in range(3):  # losing an update is likely, not certain: give it three chances
        finals.append(counter_run(api, lock=False))
        if finals[-1] < 8000:
            break
    assert min(finals) < 8000, f"no update lost in {len(finals)} runs: {finals}"
    assert all(0 < final <= 8000 for final in finals)


def test_counter_with_the_lock_counts_exactly(api: Api):
    assert counter_run(api, lock=True) == 8000
    mirror = api.wait_version(api.state(source="manager")["version"])
    assert dict_of(mirror)["counter"] == 8000
    (lock,) = [info for info in mirror["locks"] if info["name"] == "counter"]
    assert lock["holder_pid"] is None and lock["waiters"] == []


def test_reset_empties_the_list_and_the_dict(api: Api):
    pids = [w["pid"] for w in api.spawn(2)]
    wait_for(lambda: len(api.state()["list"]) == 2, what="two PIDs listed")
    for pid in pids:
        assert api.kill(pid, "KILL").status_code == 202
    api.wait_all_ended(pids)
    response = api.request("POST", "/api/state/reset")
    assert response.status_code == 200
    version = response.json()["version"]
    state = api.wait_version(version)
    assert state["list"] == [] and state["dict"] == []
    manager = api.state(source="manager")
    assert (manager["version"], manager["list"], manager["dict"]) == (version, [], [])
    assert {w["pid"] for w in state["workers"]} == set(pids)  # workers stay listed


def test_clearing_ended_workers_removes_only_those(api: Api):
    ended = [w["pid"] for w in api.spawn(2, "sleep", seconds=0)]
    (running,) = api.spawn(1, "sleep", seconds=60)
    api.wait_all_ended(ended)
    response = api.request("DELETE", "/api/workers", params={"state": "ended"})
    assert response.status_code == 200
    assert sorted(response.json()["cleared"]) == sorted(ended)
    assert set(api.workers()) == {running["pid"]}
    for pid in ended:
        assert api.request("GET", f"/api/workers/{pid}").status_code == 404


def test_killing_all_running_workers(api: Api):
    pids = [w["pid"] for w in api.spawn(3, "sleep", seconds=60)]
    response = api.request("DELETE", "/api/workers", params={"state": "running", "signal": "KILL"})
    assert response.status_code == 202
    assert sorted(response.json()["killed"]) == sorted(pids) and response.json()["signal"] == "SIGKILL"
    for info in api.wait_all_ended(pids):
        assert info["signal"] == "SIGKILL"


# -- refusals: the right 4xx, a JSON error, and nothing changed -------------------------------
def snapshot_of_everything(api: Api) -> tuple:
    state = api.state()
    # starting -> running is the worker's own doing; any end, or a signal, would be ours
    workers = {w["pid"]: w["state"] in LIVE or (w["state"], w["signal"]) for w in state["workers"]}
    return state["version"], state["list"], state["dict"], workers, descendant_pids(api.server)


@pytest.fixture
def quiet_server(api: Api):
    """The reset server with one running sleep worker, which no refused request may touch."""
    (worker,) = api.spawn(1, "sleep", seconds=120)
    api.wait_worker(worker["pid"], ("running",))
    return api


def assert_refused(api: Api, response, status: int, named: str, before: tuple) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and named in body["error"], body
    assert snapshot_of_everything(api) == before


@pytest.mark.parametrize(
    "body, named",
    [
        ({"count": 0}, f"'count' must be an integer from 1 to {MAX_WORKERS}"),
        ({"count": -1}, "'count'"),
        ({"count": "3"}, "'count'"),
        ({"count": 1.5}, "'count'"),
        ({"count": True}, "'count'"),
        ({"count": None}, "'count'"),
        ({"count": MAX_WORKERS + 1}, "'count'"),
        ({"count": 10**30}, "'count'"),
        ({"task": "nope"}, "unknown task 'nope'"),
        ({"task": 5}, "unknown task"),
        ({"task": None}, "unknown task"),
        ({"task": "sleep", "params": "fast"}, "'params' must be an object"),
        ({"task": "sleep", "params": [1]}, "'params' must be an object"),
        ({"task": "sleep", "params": {"seconds": "1"}}, "'seconds' must be float, not str"),
        ({"task": "sleep", "params": {"seconds": -1}}, "'seconds' must be >= 0"),
        ({"task": "sleep", "params": {"seconds": 1e308}}, "'seconds' must be <= 3600"),
        ({"task": "sleep", "params": {"bogus": 1}}, "unknown param 'bogus'"),
        ({"task": "counter", "params": {"n": True}}, "'n' must be int, not bool"),
        ({"task": "counter", "params": {"n": 2.5}}, "'n' must be int"),
        ({"task": "counter", "params": {"lock": "yes"}}, "'lock' must be bool"),
        ({"task": "burst", "params": {"target": "tuple"}}, "'target' must be one of"),
        ({"task": "hold_lock", "params": {"lock": "../etc"}}, "'lock' must be 1-64"),
        ({"cnt": 3}, "unknown field 'cnt'"),
        ([1, 2], "must be a JSON object"),
        ("sleep", "must be a JSON object"),
    ],
)
def test_bad_spawn_requests_are_refused_and_start_nothing(quiet_server: Api, body, named):
    before = snapshot_of_everything(quiet_server)
    response = quiet_server.request("POST", "/api/workers", json=body)
    assert_refused(quiet_server, response, 400, named, before)


HUGE = b"0" * 400  # 10**400: a valid JSON number no float can hold


@pytest.mark.parametrize(
    "data, content_type, status, named",
    [
        (b'{"task": "sleep", "params": {"seconds": NaN}}', "application/json", 400, "'seconds'"),
        (b'{"task": "sleep", "params": {"seconds": Infinity}}', "application/json", 400, "'seconds'"),
        (b'{"task": "sleep", "params": {"seconds": 1%s}}' % HUGE, "application/json", 400, "'seconds'"),
        (b'{"count": ', "application/json", 400, "not valid JSON"),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (b'{"count": 1}', "text/plain", 415, "must be JSON"),
        (b"count=1", "application/x-www-form-urlencoded", 415, "must be JSON"),
    ],
    ids=["nan", "infinity", "huge-int-for-float", "truncated", "not-utf8", "text-plain", "form"],
)
def test_malformed_spawn_bodies_are_refused(quiet_server: Api, data, content_type, status, named):
    before = snapshot_of_everything(quiet_server)
    response = quiet_server.request("POST", "/api/workers", data=data, headers={"Content-Type": content_type})
    assert_refused(quiet_server, response, status, named, before)


def test_an_oversized_body_is_refused(quiet_server: Api):
    before = snapshot_of_everything(quiet_server)
    body = {"task": "sleep", "params": {"x" * 100_000: 1}}
    response = quiet_server.request("POST", "/api/workers", json=body)
    assert_refused(quiet_server, response, 413, "", before)


def test_spawning_past_max_workers_is_a_conflict_and_starts_none(api: Api):
    api.spawn(MAX_WORKERS - 2, "sleep", seconds=60)
    before = snapshot_of_everything(api)
    response = api.request("POST", "/api/workers", json={"count": 3, "task": "sleep"})
    assert_refused(api, response, 409, f"--max-workers {MAX_WORKERS}", before)
    api.spawn(2, "sleep", seconds=60)  # exactly at the limit is fine
    before = snapshot_of_everything(api)
    response = api.request("POST", "/api/workers", json={"count": 1})
    assert_refused(api, response, 409, "would exceed", before)
    assert api.health()["workers"] == MAX_WORKERS


def test_ended_workers_do_not_count_against_max_workers(api: Api):
    pids = [w["pid"] for w in api.spawn(MAX_WORKERS, "sleep", seconds=0)]
    api.wait_all_ended(pids)
    assert len(api.spawn(MAX_WORKERS, "sleep", seconds=60)) == MAX_WORKERS


def pid_of(target: str, api: Api, stranger) -> int:
    if target == "pid-1":
        return 1
    if target == "server":
        return api.server.pid
    if target == "manager":
        return api.health()["manager_pid"]
    if target == "test-runner":
        return psutil.Process().pid
    if target == "stranger":
        return stranger.pid
    if target == "forkserver":
        return api.worker(next(iter(api.workers())))["ppid"]
    if target == "ended-worker":
        (worker,) = api.spawn(1, "sleep", seconds=0)
        api.wait_worker(worker["pid"], ENDED)
        return worker["pid"]
    if target == "never-used":
        return 4_194_303
    raise AssertionError(target)


NOT_OURS = ["server", "manager", "forkserver", "test-runner", "stranger", "ended-worker", "never-used"]


# PID 1 only with SIGKILL: were it ever sent, the kernel drops it for a namespace's init
@pytest.mark.parametrize(
    "target, sig", [("pid-1", "KILL")] + [(t, s) for t in NOT_OURS for s in ("KILL", "TERM")]
)
def test_killing_anything_but_a_running_worker_is_not_found(quiet_server: Api, stranger, target, sig):
    api = quiet_server
    pid = pid_of(target, api, stranger)
    alive = psutil.Process(pid) if psutil.pid_exists(pid) else None
    before = snapshot_of_everything(api)
    response = api.kill(pid, sig)
    assert_refused(api, response, 404, f"no running worker with PID {pid}", before)
    if alive is not None:
        assert alive.is_running() and alive.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_STOPPED)
    assert stranger.poll() is None  # still sleeping, never signalled


@pytest.mark.parametrize("pid", ["abc", "-5", "1.5", "0x10", "12a", "%20", "99999999999", "²", "١٢"])
def test_killing_a_pid_that_is_not_a_number_is_a_bad_request(quiet_server: Api, pid):
    before = snapshot_of_everything(quiet_server)
    response = quiet_server.kill(pid, "KILL")
    assert_refused(quiet_server, response, 400, "'pid' must be a positive integer", before)


@pytest.mark.parametrize("sig", ["HUP", "9", "STOP", "", "SIGSEGV"])
def test_killing_with_an_unsupported_signal_is_a_bad_request(quiet_server: Api, sig):
    (pid,) = quiet_server.workers()
    before = snapshot_of_everything(quiet_server)
    response = quiet_server.request("DELETE", f"/api/workers/{pid}", params={"signal": sig})
    assert_refused(quiet_server, response, 400, "'signal' must be one of TERM, KILL, INT", before)


@pytest.mark.parametrize("query", [{}, {"state": "all"}, {"state": "RUNNING"}])
def test_deleting_workers_needs_a_state(quiet_server: Api, query):
    before = snapshot_of_everything(quiet_server)
    response = quiet_server.request("DELETE", "/api/workers", params=query)
    assert_refused(quiet_server, response, 400, "'state' must be 'ended' or 'running'", before)


def test_unknown_api_paths_answer_json_not_html(api: Api):
    response = api.request("GET", "/api/nothing-here")
    assert response.status_code == 404 and "error" in response.json()
    response = api.request("PUT", "/api/workers")
    assert response.status_code == 405 and "error" in response.json()


def test_state_fields_filter_returns_only_the_named_fields(api: Api):
    assert set(api.get_json("/api/state?fields=version,workers")) == {"version", "workers"}
    for bad in ("nope", "version,nope", ","):
        assert "fields" in api.get_json(f"/api/state?fields={bad}", 400)["error"]


def test_a_big_object_is_read_page_by_page(api: Api):
    [burst] = api.spawn(1, "burst", n=250, keys=250, target="list")
    api.wait_worker(burst["pid"], ENDED, 30)
    version = api.get_json("/api/state?fields=version")["version"]
    whole = api.wait_version(version)["list"]
    assert len(whole) == 250
    pages = [api.get_json(f"/api/objects/l?offset={offset}&limit=100") for offset in (0, 100, 200)]
    assert [p["total"] for p in pages] == [250, 250, 250]
    assert sum((p["value"] for p in pages), []) == whole
    assert all(w == burst["pid"] for p in pages for w in p["writers"])
    assert api.get_json("/api/objects/l?fields=kind,label") == {"kind": "list", "label": "l"}
    for bad in ("offset=-1", "limit=x", "offset=1e3"):
        assert api.get_json(f"/api/objects/l?{bad}", 400)["error"]
