"""The classic hangs named (issue "Why is it stuck?", part 3): each in examples/stuck/ under a real
``mpscope run``, read from ``GET /api/diagnoses`` and shown as a banner at 1280 and 390 px; the
rules themselves on hand-made evidence."""

from __future__ import annotations

import pytest
from browser_support import pages_at
from playwright.sync_api import Browser, expect
from run_support import diagnosis, processes

from testkit.waiting import wait_for
from webapp.diagnoses import compute


@pytest.mark.browser
@pytest.mark.parametrize("run_server", [("stuck/queue_join.py",)], indirect=True)
def test_joining_a_child_whose_queue_is_unread_is_named_and_shown(run_server, run_api, browser: Browser):
    found = diagnosis(run_api, "queue_join")
    by_role = {p["role"]: p["pid"] for p in processes(run_api).values()}
    assert found["pids"] == [by_role["main"], by_role["process"]]
    assert "get() the items before join()" in found["text"] and found["since"] > 0
    child = processes(run_api)[by_role["process"]]
    assert child["waiting"]["call"] == "exit_flush"
    for width, page in pages_at(browser, run_server.page_url):
        banner = page.locator('#diagnoses .diagnosis[data-kind="queue_join"]')
        expect(banner).to_contain_text("Joined a process that cannot exit")
        expect(banner.get_by_role("link", name="programming guidelines")).to_be_visible()
        box = banner.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box  # fits the width
        expect(page.locator(f'#workers tr[data-pid="{by_role["main"]}"] .wait-line')).to_contain_text(
            f"join() on child (PID {by_role['process']})"
        )


@pytest.mark.parametrize("run_server", [("stuck/pool_worker_killed.py",)], indirect=True)
def test_a_pool_task_lost_with_its_killed_worker_is_named(run_server, run_api):
    found = diagnosis(run_api, "lost_task")
    tasks = {t["id"]: t for t in run_api.get_json("/api/pool-tasks")["tasks"]}
    (lost,) = [t for t in tasks.values() if t["state"] == "lost"]
    assert found["objects"] == [lost["id"]] and found["pids"][0] == lost["pid"]
    assert "SIGKILL" in found["text"] and "BrokenProcessPool" in found["text"]
    assert processes(run_api)[lost["pid"]]["state"] == "killed"


WORKERS = [
    {"pid": 1, "ended_at": None, "name": "MainProcess", "task": None, "waiting": None, "signal": None},
    {"pid": 2, "ended_at": None, "name": "Process-1", "task": None, "waiting": None, "signal": None},
    {"pid": 3, "ended_at": 5.0, "name": "Process-2", "task": None, "waiting": None, "signal": "SIGKILL"},
]


def test_rules_deadlock_and_dead_holder():
    locks = [
        {"name": "a", "holder_pid": 1, "waiters": [2]},
        {"name": "b", "holder_pid": 2, "waiters": [1]},
    ]
    held = [{"object": "9:3", "kind": "Lock", "pid": 3}, {"object": "9:4", "kind": "Lock", "pid": 1}]
    found = {d["kind"]: d for d in compute(WORKERS, locks, held, [], {})}
    assert set(found) == {"deadlock", "dead_holder"}
    assert sorted(found["deadlock"]["pids"]) == [1, 2] and found["deadlock"]["objects"] in (
        ["a", "b"],
        ["b", "a"],
    )
    assert found["dead_holder"]["pids"] == [3] and found["dead_holder"]["objects"] == ["9:3"]


def test_rules_from_stderr_name_the_main_guard_and_pickling():
    evidence = {
        "main_guard": {2: "RuntimeError: ... the current process has finished its bootstrapping phase."},
        "unpicklable": {1: "_pickle.PicklingError: Can't pickle <function <lambda>>"},
    }
    kinds = {d["kind"]: d for d in compute(WORKERS, [], [], [], evidence)}
    assert 'if __name__ == "__main__":' in kinds["main_guard"]["text"] and kinds["main_guard"]["pids"] == [2]
    assert "lambda" in kinds["unpicklable"]["text"]


def test_nothing_is_named_when_nothing_is_stuck():
    assert compute(WORKERS, [{"name": "a", "holder_pid": 1, "waiters": []}], [], [], {}) == []


POOL_ENDS_BUSY = """
import multiprocessing as mp, time
if __name__ == "__main__":
    with mp.Pool(2) as pool:
        pool.apply_async(time.sleep, (60,))
        time.sleep(2)  # the block ends, and with it the pool (terminate()), while the task runs
"""


def test_a_pool_terminated_mid_task_cancels_it_and_names_nothing(tmp_path):
    from run_support import wait_program, watching

    with watching(tmp_path, POOL_ENDS_BUSY) as (_srv, api):
        assert wait_program(api)["exitcode"] == 0
        (task,) = wait_for(
            lambda: (t := api.get_json("/api/pool-tasks")["tasks"]) and t[0]["state"] == "cancelled" and t,
            20,
            "the task cancelled",
        )
        assert task["func"] == "sleep"
        assert not [d for d in api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == "lost_task"]
