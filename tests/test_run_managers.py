"""``mpscope run``: every Manager a program starts is recorded, whatever the start method.

The program is unchanged and behaves as under plain python; the dashboard shows each
object the Manager made, labelled by the line that made it, with the writer's PID on
every op, live over Socket.IO as in REST.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from run_support import EXAMPLES, PROGRAM_PYTHON, RunServer, run_to_end, wait_program, write
from support import Api, LiveClient, wait_for

from sharedstate.kinds import KINDS

pytestmark = pytest.mark.timeout(120)


def children_of(api: Api) -> set[int]:
    """The program's Process children (not its Manager, forkserver or resource tracker)."""
    return {
        w["pid"]
        for w in api.state()["workers"]
        if w["role"] == "process" and w["name"].startswith("Process-")
    }


def program_objects(api: Api) -> dict[str, dict]:
    return api.state()["objects"]


def by_label(objects: dict, start: str) -> tuple[str, dict]:
    return next((oid, o) for oid, o in objects.items() if o["label"].startswith(start))


@pytest.mark.parametrize(
    "run_server", [("manager.py",)], indirect=True, ids=["the seed tutorial's Manager example"]
)
def test_the_tutorials_manager_example_shows_every_pid_written_by_its_writer(run_server, run_api):
    srv, api = run_server, run_api
    client = LiveClient(srv)
    try:
        wait_program(api)
        children = children_of(api)
        assert len(children) == 10
        objects = wait_for(
            lambda: (
                (o := program_objects(api))
                and len(o) == 2
                and len(by_label(o, "l = ")[1]["value"]) == 15
                and o
            ),
            20,
            "d and l with every PID",
        )
        d_id, d = by_label(objects, "d = manager.dict()  · manager.py:")
        l_id, l = by_label(objects, "l = manager.list(range(5))  · manager.py:")  # noqa: E741
        manager = {w["pid"] for w in api.state()["workers"] if w["role"] == "manager"}
        assert {d["manager_pid"], l["manager_pid"]} <= manager
        assert (d["kind"], l["kind"]) == ("dict", "list")
        assert l["value"][:5] == [0, 1, 2, 3, 4] and set(l["value"][5:]) == children
        assert {k for k, _ in d["value"]} == children and all(k == v for k, v in d["value"])
        assert d["writers"] == [k for k, _ in d["value"]]  # each child wrote its own entry
        assert l["writers"][5:] == l["value"][5:]
        # a page's copy, rebuilt from snapshot + changes, is the same
        client.wait(lambda: client.replica.version == api.state()["version"], what="the client to catch up")
        assert client.replica.described()[d_id]["value"] == d["value"]
        assert client.replica.described()[l_id]["value"] == l["value"]
        ops = [op for op in client.ops() if op["object"] == l_id and op["op"] == "append"]
        assert {op["pid"] for op in ops} == children
    finally:
        client.close()


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_every_kind_is_recorded_and_the_program_behaves_as_without_mpscope(tmp_path: Path, method: str):
    program = str(EXAMPLES / "manager_kinds.py")
    plain = subprocess.run([PROGRAM_PYTHON, program, method], capture_output=True, text=True, timeout=60)
    srv = RunServer(tmp_path, "manager_kinds.py", method)
    api = Api(srv)
    try:
        info = wait_program(api, timeout=60)
        assert info["exitcode"] == plain.returncode == 0
        assert plain.stdout in srv.out_path.read_text()  # the same lines reached the terminal
        every = set(KINDS)  # every kind a SyncManager serves (tests/test_journal.py lists them)
        kinds = wait_for(
            lambda: (k := {o["kind"] for o in program_objects(api).values()}) >= every and k, 20, "every kind"
        )
        assert kinds == every
        objects = program_objects(api)
        children = children_of(api)
        _, queue = by_label(objects, "q = m.Queue()  · manager_kinds.py:")  # one label each, by its name
        assert sorted(queue["value"]["items"]) == sorted(children) and sorted(queue["writers"]) == sorted(
            children
        )
        _, d = by_label(objects, "d = m.dict()  · manager_kinds.py:")
        nested = dict((k if isinstance(k, str) else "pid", v) for k, v in d["value"])["nested"]
        assert nested[0]["$type"] == "proxy"  # shown as what it is; the feed went on
        barriers = [o for o in objects.values() if o["kind"] == "Barrier"]
        assert barriers[0]["value"]["passed"] == 1
        assert len({o["manager_pid"] for o in objects.values()}) == 1
    finally:
        api.close()
        srv.stop()


HEAVY_IMPORTS_PROGRAM = """
import multiprocessing as mp, sys
from multiprocessing.managers import SyncManager

HEAVY = ("typing", "dataclasses", "inspect")

def heavy():
    return [m for m in HEAVY if m in sys.modules]

class Checked(SyncManager):
    pass

Checked.register("heavy", callable=heavy)

if __name__ == "__main__":
    with Checked(ctx=mp.get_context(sys.argv[1])) as m:
        d, l, lock, q = m.dict(), m.list(), m.Lock(), m.Queue()
        d[1] = 1; l.append(1); q.put(1)
        with lock:
            pass
        print("manager", m.heavy()._getvalue())
    print("main", heavy())
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_recording_adds_no_heavy_imports_to_the_programs_processes(tmp_path: Path, method: str):
    # the recording runs inside the program's own time: each module it imports (typing
    # alone is ~3 ms) slowed the seed's Manager example measurably
    program = write(tmp_path, HEAVY_IMPORTS_PROGRAM)
    plain = subprocess.run([PROGRAM_PYTHON, str(program), method], capture_output=True, text=True, timeout=60)
    watched = run_to_end(str(program), method, cwd=tmp_path)
    assert plain.returncode == watched.returncode == 0, watched.stderr
    assert plain.stdout in watched.stdout  # the same modules, in its Manager and its main process


@pytest.mark.parametrize("run_server", [("bad/manager_deadlock.py",)], indirect=True)
def test_a_deadlock_on_two_manager_locks_is_shown_as_a_cycle(run_server, run_api):
    api = run_api
    children = wait_for(lambda: len(c := children_of(api)) == 2 and c, 20, "both children")
    cycle = wait_for(lambda: api.get_json("/api/locks")["deadlocks"], 20, "the deadlock cycle")
    assert sorted(cycle[0]["pids"]) == sorted(children)
    assert api.state()["program"]["state"] == "running"  # deadlocked, not ended


@pytest.mark.parametrize("run_server", [("bad/dies_holding_lock.py",)], indirect=True)
def test_a_child_that_died_holding_a_manager_lock_can_be_released_from_the_dashboard(run_server, run_api):
    api = run_api

    def waited_on() -> tuple | None:
        for oid, obj in program_objects(api).items():
            if obj["kind"] == "Lock" and obj["value"]["holders"] and obj["value"]["waiters"]:
                return oid, obj
        return None

    oid, lock = wait_for(waited_on, 20, "a lock held by the dead child, with a waiter")
    holder = lock["value"]["holders"][0]["pid"]
    assert api.worker(holder)["state"] in ("exited", "killed")
    response = api.request("POST", f"/api/objects/{oid}/release", json={"pid": holder})
    assert response.status_code == 200, response.text
    assert wait_program(api, timeout=20)["exitcode"] == 0  # the waiter got the lock and the program ended


def test_a_remote_managers_queue_shows_what_its_clients_put_and_by_whom(tmp_path: Path):
    port = free_port()
    srv = RunServer(tmp_path, "remote_manager/queue_server.py", str(port))
    api = Api(srv)
    try:
        wait_for(lambda: f"port {port}" in srv.out_path.read_text(), 20, "the queue server to listen")
        client = subprocess.Popen(
            [PROGRAM_PYTHON, str(EXAMPLES / "remote_manager" / "queue_client.py"), "127.0.0.1", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        out, _ = client.communicate(timeout=30)
        assert out.strip() == "took back: hello"
        oid, q = wait_for(
            lambda: (
                (found := [(k, o) for k, o in program_objects(api).items() if o["kind"] == "Queue"])
                and found[0][1]["value"]["items"] == ["from", "a client"]
                and found[0]
            ),
            20,
            "the served queue with what the client left in it",
        )
        assert q["label"] == f"get_queue()  · served at 127.0.0.1:{port}"
        assert q["writers"] == [client.pid, client.pid]  # a client on this host is named by its PID
        ops = api.get_json(f"/api/objects/{oid}")
        assert ops["value"]["unfinished"] == 3
    finally:
        api.close()
        srv.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PHASES = """
import os, sys, time
from multiprocessing import Manager, Process


def write(d, l, tag):
    for i in range(400):
        d[f"{tag}:{i % 50}"] = i
        l.append(i)


def phase(d, l, tags):
    processes = [Process(target=write, args=(d, l, tag)) for tag in tags]
    for p in processes:
        p.start()
    for p in processes:
        p.join()


if __name__ == "__main__":
    first_done, go = sys.argv[1], sys.argv[2]
    with Manager() as m:
        d, l = m.dict(), m.list()
        phase(d, l, "ab")
        open(first_done, "w").close()
        while not os.path.exists(go):  # the test opens a page meanwhile
            time.sleep(0.01)
        phase(d, l, "cd")
        print(len(d), len(l))
"""


def test_a_page_opened_after_unwatched_writes_gets_them_all_then_the_rest_live(tmp_path: Path):
    # While no page is open the dashboard may hold the journal's batches back; a page
    # joining later must get every write in its snapshot, and what follows as changes.
    program, first_done, go = tmp_path / "phases.py", tmp_path / "first-done", tmp_path / "go"
    program.write_text(PHASES)
    srv = RunServer(tmp_path, str(program), str(first_done), str(go))
    api, client = Api(srv), None
    try:
        wait_for(first_done.exists, 30, "the first phase's end")
        client = LiveClient(srv)
        # a:0..49 and b:0..49, each written 8 times, the last time with 350 + its number (the
        # Manager's last batch may still be on its way when the page joins: then as a change)
        finished = sorted([f"{tag}:{n}", 350 + n] for tag in "ab" for n in range(50))
        d_id, _ = client.wait(
            lambda: next(
                ((oid, o) for oid, o in client.replica.described().items() if sorted(o["value"]) == finished),
                None,
            ),
            what="every write of the first phase",
        )
        go.touch()
        wait_program(api)
        client.wait(lambda: client.replica.version == api.state()["version"], what="the client to catch up")
        state = api.state()["objects"]
        described = client.replica.described()
        assert described[d_id]["value"] == state[d_id]["value"] and len(state[d_id]["value"]) == 200
        lists = [oid for oid, o in state.items() if o["kind"] == "list"]
        assert [len(state[oid]["value"]) for oid in lists] == [1600]
        assert described[lists[0]]["value"] == state[lists[0]]["value"]
        live = {op["key"].split(":")[0] for op in client.ops() if op["object"] == d_id and op["op"] == "set"}
        assert {"c", "d"} <= live  # the second phase came as changes
        assert "200 1600" in srv.out_path.read_text()
    finally:
        if client is not None:
            client.close()
        api.close()
        srv.stop()


TWO_ON_A_LINE = """
import multiprocessing as mp

if __name__ == "__main__":
    with mp.Manager() as m:
        a, b = m.Lock(), m.Lock()
        d = m.dict()
        d["made"] = 3
        print("labels", len({id(a), id(b)}))
"""


def test_two_objects_made_on_one_line_are_labelled_by_their_own_names(tmp_path: Path):
    from run_support import watching

    with watching(tmp_path, TWO_ON_A_LINE) as (_srv, api):
        assert wait_program(api)["exitcode"] == 0
        labels = wait_for(
            lambda: (
                (found := sorted(o["label"] for o in api.state()["objects"].values()))
                and len(found) == 3
                and found
            ),
            20,
            "the three objects",
        )
        assert [label.split("  · ")[0] for label in labels] == [
            "a = m.Lock()",
            "b = m.Lock()",
            "d = m.dict()",
        ]
