"""multiprocessing's own locks under ``mpscope run`` (issue "Why is it stuck?", part 1, locks):
each one the program makes is a panel with its holders and waiters, labelled by the name it
was bound to; a cycle through them and a dead holder are named."""

from __future__ import annotations

import pytest
from run_support import diagnosis, processes, watching

from testkit.waiting import wait_for


def native_locks(api) -> dict[str, dict]:
    return {oid: o for oid, o in api.state()["objects"].items() if o.get("origin") == "native"}


@pytest.mark.parametrize("run_server", [("stuck/lock_deadlock.py",)], indirect=True)
def test_two_locks_taken_in_opposite_orders_are_a_named_deadlock(run_server, run_api):
    found = diagnosis(run_api, "deadlock")
    locks = native_locks(run_api)
    by_name = {o["label"].split(" = ")[0]: (oid, o) for oid, o in locks.items()}
    assert set(by_name) == {"a", "b"}, locks  # `a, b = mp.Lock(), mp.Lock()`: one label each
    assert all(
        o["kind"] == "Lock" and o["label"].endswith("lock_deadlock.py:20") for _, o in by_name.values()
    )
    children = sorted(p["pid"] for p in processes(run_api).values() if p["role"] == "process")
    assert (
        sorted(found["pids"]) == children
        and "waits for a" in found["text"]
        and "waits for b" in found["text"]
    )
    for _, lock in by_name.values():  # each held by one child, awaited by the other
        value = lock["value"]
        assert [h["pid"] for h in value["holders"]] != value["waiters"] and len(value["waiters"]) == 1
    waits = [p["waiting"] for p in processes(run_api).values() if p["role"] == "process"]
    assert {w["text"].split(" · ")[0] for w in waits} == {"acquire() of second"}  # the name in take()
    assert {w["oid"] for w in waits} == set(locks)
    # and each row says who holds what it waits for: the other child
    rows = wait_for(
        lambda: (
            (r := [p for p in processes(run_api).values() if p["role"] == "process"])
            and all((p["waiting"] or {}).get("held_by") for p in r)
            and r
        ),
        10,
        "each child's wait to name its lock's holder",
    )
    for row, other in zip(rows, reversed(rows), strict=True):
        assert row["waiting"]["held_by"] == [other["pid"]]
        assert row["waiting"]["text"].endswith(f", held by {other['pid']}")


@pytest.mark.parametrize("run_server", [("stuck/dies_holding_mp_lock.py",)], indirect=True)
def test_a_child_that_died_holding_a_lock_is_its_dead_holder(run_server, run_api):
    found = diagnosis(run_api, "dead_holder")
    (oid, lock) = next(iter(native_locks(run_api).items()))
    assert lock["label"].startswith("guard = mp.Lock()") and found["objects"] == [oid]
    child = processes(run_api)[found["pids"][0]]
    assert child["role"] == "process" and child["ended_at"] is not None
    assert "guard" in found["text"]
    main = wait_for(
        lambda: next(
            (
                p
                for p in processes(run_api).values()
                if p["role"] == "main" and (p["waiting"] or {}).get("oid")
            ),
            None,
        ),
        20,
        "the parent waiting",
    )
    assert main["waiting"]["text"].startswith("acquire() of guard")
    held = wait_for(
        lambda: (w := processes(run_api)[main["pid"]]["waiting"] or {}).get("held_by") and w, 10, "held by"
    )
    assert held["held_by"] == [child["pid"]] and held["text"].endswith(f", held by {child['pid']}")
    # Release: the parent (a live process of the program that has the lock) frees it for the dead child
    released = run_api.request("POST", f"/api/objects/{oid}/release", json={"pid": child["pid"]})
    assert released.status_code == 200, released.text
    assert released.json() == {"released": oid, "holder_pid": child["pid"]}
    program = wait_for(lambda: (p := run_api.state()["program"])["state"] == "exited" and p, 20, "the end")
    assert program["exitcode"] == 0 and "released: the parent took the lock" in run_server.output()
    again = run_api.request("POST", f"/api/objects/{oid}/release", json={"pid": child["pid"]})
    assert again.status_code in (400, 409)  # not held by it any more


MAP_STUCK = """
import multiprocessing as mp, time

def work(x):
    if x >= 8:
        time.sleep(60)  # the last two tasks never end while the test looks
    return x

if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(pool.map(work, range(10), chunksize=1))
"""


def test_a_main_process_waiting_in_map_says_how_many_tasks_are_left(tmp_path):
    with watching(tmp_path, MAP_STUCK) as (_srv, api):
        main = wait_for(
            lambda: next(
                (
                    p
                    for p in processes(api).values()
                    if p["role"] == "main" and "tasks left" in ((p["waiting"] or {}).get("text") or "")
                ),
                None,
            ),
            20,
            "the main process's wait in map()",
        )
        assert main["waiting"]["call"] == "map"
        assert main["waiting"]["text"] == "map(): 2 of 10 tasks left · program.py:11"
