"""``mpscope run`` on joblib (loky backend): its workers are ``pool`` processes, its batches timed."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
from pathlib import Path

import pytest
from run_support import (
    EXAMPLES,
    PROGRAM_PYTHON,
    PYTHON_FLAGS,
    pool_tasks,
    run_to_end,
    wait_program,
    watching,
    write,
)
from support import Api, wait_for

from testkit.server import Server


def _program_has_joblib() -> bool:
    """Whether the watched programs' Python (ours, or MPSCOPE_TEST_PYTHON's) can import joblib."""
    if not PYTHON_FLAGS:
        return importlib.util.find_spec("joblib") is not None
    return subprocess.run([PROGRAM_PYTHON, "-c", "import joblib"], capture_output=True).returncode == 0


NEEDS_JOBLIB = pytest.mark.skipif(
    not _program_has_joblib(), reason="joblib is not installed for the program's Python"
)
pytestmark = [NEEDS_JOBLIB, pytest.mark.timeout(120)]

FAILING = """
from joblib import Parallel, delayed

def check(x):
    if x == 3:
        raise ValueError(f"no luck with {x}")
    return x

if __name__ == "__main__":
    Parallel(n_jobs=2, batch_size=1)(delayed(check)(i) for i in range(4))
"""


def finished_tasks(api, items: int, timeout: float = 30.0) -> list[dict]:
    """The tasks, once the finished ones hold ``items`` calls (workers' events may trail the end)."""
    return wait_for(
        lambda: (t := pool_tasks(api)) and sum(x["items"] for x in t if x["ended_at"]) == items and t,
        timeout,
        f"joblib tasks of {items} calls on the timeline",
    )


@pytest.mark.parametrize("run_server", [("joblib_parallel.py", "0.05")], indirect=True)
def test_joblib_workers_are_pool_processes_and_their_tasks_are_on_the_timeline(run_server, run_api):
    info = wait_program(run_api, timeout=60)
    tasks = finished_tasks(run_api, 10)
    workers = {w["pid"]: w for w in run_api.state()["workers"]}
    pool = {pid for pid, w in workers.items() if w["role"] == "pool"}
    assert len(pool) == 2, workers
    assert all(workers[pid]["ppid"] == info["pid"] for pid in pool)
    assert all(t["func"] == "slow_square" and t["state"] == "done" for t in tasks)
    assert {t["pid"] for t in tasks} <= pool
    assert all(t["queued_at"] <= t["started_at"] <= t["ended_at"] for t in tasks)
    assert all(t["pool"].startswith("loky-") and "joblib_parallel.py:" in t["pool"] for t in tasks)


def test_a_joblib_program_prints_and_exits_as_under_plain_python():
    args = (str(EXAMPLES / "joblib_parallel.py"), "0.05")
    watched = run_to_end(*args)
    plain = subprocess.run([PROGRAM_PYTHON, *args], capture_output=True, text=True, timeout=60)
    assert watched.returncode == plain.returncode == 0, watched.stderr
    squares = "squares: " + str([i * i for i in range(10)])
    # mpscope's own lines ("mpscope running at ...") come first; the program's are the same
    assert [line for line in watched.stdout.splitlines() if not line.startswith("mpscope")][0] == squares
    assert plain.stdout.splitlines()[0] == squares


def test_a_failing_joblib_call_is_a_failed_task_with_its_traceback(tmp_path: Path):
    with watching(tmp_path, FAILING) as (srv, api):
        info = wait_program(api, timeout=60)
        tasks = finished_tasks(api, 4)
        (failed,) = [t for t in tasks if t["state"] == "failed"]
        assert failed["func"] == "check" and "ValueError: no luck with 3" in failed["error"]
        assert info["exitcode"] == 1, info  # joblib re-raised it in the parent
        assert "ValueError: no luck with 3" in srv.output()


def test_a_recording_keeps_joblibs_tasks(tmp_path: Path):
    path = tmp_path / "run.sqlite"
    done = run_to_end("--record", str(path), str(EXAMPLES / "joblib_parallel.py"), "0.05")
    assert done.returncode == 0, done.stderr
    con = sqlite3.connect(path)
    try:
        roles = dict(con.execute("SELECT role, count(DISTINCT pid) FROM process_states GROUP BY role"))
        tasks = con.execute(
            "SELECT id, state, func, json_extract(json, '$.items'), pid, max(event)"
            " FROM task_states GROUP BY id"
        ).fetchall()
    finally:
        con.close()
    assert roles["pool"] == 2, roles
    assert {(state, func) for _, state, func, *_ in tasks} == {("done", "slow_square")}
    assert sum(items for _, _, _, items, *_ in tasks) == 10
    opened = Server(tmp_path / "open", str(path), subcommand=("open",), max_workers=None)
    api = Api(opened)
    try:
        replayed = pool_tasks(api)
        assert sorted((t["id"], t["state"], t["pid"]) for t in replayed) == sorted(
            (id_, state, pid) for id_, state, _, _, pid, _ in tasks
        )
    finally:
        api.close()
        opened.stop()


BACKENDS = """
from joblib import Parallel, delayed
from joblib.externals.loky import get_reusable_executor

def square(x):
    return x * x

if __name__ == "__main__":
    print(Parallel(n_jobs=2, backend="multiprocessing", batch_size=2)(delayed(square)(i) for i in range(6)))
    executor = get_reusable_executor(max_workers=2)
    print(list(executor.map(square, range(8), chunksize=4)))
"""


def test_joblibs_multiprocessing_backend_and_lokys_own_executor(tmp_path: Path):
    with watching(tmp_path, BACKENDS) as (srv, api):
        wait_program(api, timeout=60)
        tasks = finished_tasks(api, 6 + 8)
        pool = [t for t in tasks if t["id"].split(":")[1] == "pool"]  # joblib's Pool: batches of 2 at most
        assert {t["func"] for t in pool} == {"square"} and sum(t["items"] for t in pool) == 6
        assert max(t["items"] for t in pool) == 2
        assert all(t["pool"].startswith("Pool-") and "program.py:" in t["pool"] for t in pool)
        loky = [t for t in tasks if t["id"].split(":")[1] == "loky"]  # map(): chunks of 4
        assert [(t["func"], t["items"]) for t in loky] == [("square", 4)] * 2
        assert all(t["pool"].startswith("loky-") and "program.py:" in t["pool"] for t in loky)
        roles = {w["pid"]: w["role"] for w in api.state()["workers"]}
        assert all(roles[t["pid"]] == "pool" for t in tasks)
        assert "[0, 1, 4, 9, 16, 25, 36, 49]" in srv.output()


def test_the_agent_imports_nothing_of_joblib_or_loky(tmp_path: Path):
    program = write(
        tmp_path,
        "import sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('joblib', 'loky')))\n",
    )
    watched = run_to_end(str(program))
    assert watched.returncode == 0, watched.stderr
    assert "[]" in watched.stdout.splitlines()
