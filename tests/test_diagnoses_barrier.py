"""``barrier_short`` (issue "Why is it stuck?", part 3): a Barrier that waits for more parties than
the live processes can bring — examples/stuck/barrier_short.py under a real ``mpscope run``, and
the rule on hand-made evidence (never named while a process that could still come runs)."""

from __future__ import annotations

import pytest
from run_support import processes

from testkit.waiting import wait_for
from webapp.barrier_diagnosis import barriers_short


@pytest.mark.parametrize("run_server", [("stuck/barrier_short.py",)], indirect=True)
def test_a_barrier_for_three_with_two_parties_is_named(run_server, run_api):
    found = wait_for(
        lambda: next(
            (d for d in run_api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == "barrier_short"), None
        ),
        20,
        "the barrier_short diagnosis",
    )
    by_pid = processes(run_api)
    children = sorted(pid for pid, p in by_pid.items() if p["role"] == "process" and p["ended_at"] is None)
    assert sorted(found["pids"]) == children and len(children) == 2
    assert "2 of the 3 parties wait at gate" in found["text"] and "Barrier(n)" in found["text"]
    (oid,) = found["objects"]
    gate = run_api.get_json("/api/state")["objects"][oid]
    assert gate["kind"] == "Barrier" and gate["label"].startswith("gate = ")


def _procs(**waits) -> tuple[dict, set[int]]:
    by_pid = {
        1: {"pid": 1, "role": "main", "name": "MainProcess", "waiting": waits.get("main")},
        2: {"pid": 2, "role": "process", "name": "Process-1", "waiting": {"call": "wait"}},
        3: {"pid": 3, "role": "process", "name": "Process-2", "waiting": {"call": "wait"}},
        9: {"pid": 9, "role": "manager", "name": "SyncManager-1", "waiting": None},
    }
    return by_pid, set(by_pid)


BARRIER = [("9:1", "Barrier", {"parties": 3, "waiting": [2, 3], "broken": False, "passed": 0})]


def test_the_rule_waits_while_a_process_that_could_come_runs():
    by_pid, live = _procs(main=None)  # the main process runs: it may start the third party
    assert barriers_short(BARRIER, by_pid, live, {}) == []
    by_pid, live = _procs(main={"call": "sleep"})  # idle, but it could still come
    assert barriers_short(BARRIER, by_pid, live, {}) == []


def test_the_rule_names_it_once_the_only_other_process_joins():
    by_pid, live = _procs(main={"call": "join", "pid": 2})
    (found,) = barriers_short(BARRIER, by_pid, live, {"9:1": "gate"})
    assert found["pids"] == [2, 3] and found["objects"] == ["9:1"] and "at gate" in found["text"]
    broken = [("9:1", "Barrier", {**BARRIER[0][2], "broken": True})]
    assert barriers_short(broken, by_pid, live, {}) == []
