"""``mpscope run``: a user's own program runs unchanged and every process of it is on the dashboard.

Every test runs a real program (from examples/, or written to a temporary file) under a
real ``python -m webapp run`` and looks at it through the REST API and Socket.IO.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from run_support import EXAMPLES, RunServer, by_name, pool_tasks, processes, wait_program
from support import REPO, Api, LiveClient, is_alive, wait_for

pytestmark = pytest.mark.timeout(90)

THREE_KINDS = textwrap.dedent(
    """
    import multiprocessing as mp, os, sys, time

    def child():
        print("child", os.getpid(), "writes to stdout")
        print("child", os.getpid(), "writes to stderr", file=sys.stderr)

    def square(x):
        return x * x

    if __name__ == "__main__":
        mp.set_start_method(sys.argv[1])
        p = mp.Process(target=child, name="the-child")
        p.start()
        p.join()
        with mp.Pool(2) as pool:
            print("squares", pool.map(square, range(6)))
        with mp.Manager() as manager:
            d = manager.dict()
            d["main"] = os.getpid()
        print("main", os.getpid(), "done")
    """
)


def write(tmp_path: Path, source: str, name: str = "program.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def run_to_end(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """``mpscope run --exit-with-program ARGS`` to its end."""
    command = [sys.executable, "-m", "webapp", "run", "--port", "0", "--exit-with-program", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def run_server(tmp_path: Path, request: pytest.FixtureRequest):
    """Start ``mpscope run`` on ``request.param``: (mpscope flags..., program, args...); stop it after."""
    flags = tuple(arg for arg in request.param if arg.startswith("--"))
    program, *args = request.param[len(flags) :]
    srv = RunServer(tmp_path, program, *args, flags=flags)
    yield srv
    srv.stop()


@pytest.fixture
def run_api(run_server: RunServer):
    client = Api(run_server)
    yield client
    client.close()


# -- the program runs as `python script.py ARGS` would --------------------------------------
def test_program_sees_the_same_argv_cwd_environment_and_path_as_under_plain_python(tmp_path: Path):
    program = write(
        tmp_path,
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv, 'cwd': os.getcwd(), 'env': dict(os.environ),\n"
        "                  'path': sys.path}))\n",
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "SOME_SETTING": "kept"}
    args = [str(program), "--epochs", "3", "two words"]
    plain = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
    watched = run_to_end(*args, cwd=tmp_path, env=env)
    assert watched.returncode == 0, watched.stderr
    seen = json.loads(next(line for line in watched.stdout.splitlines() if line.startswith("{")))
    expected = json.loads(plain.stdout)
    assert seen["argv"] == expected["argv"] == args
    assert seen["cwd"] == expected["cwd"]
    assert seen["env"] == expected["env"]
    assert seen["path"] == expected["path"]


def test_exit_code_and_output_are_the_programs(tmp_path: Path):
    done = run_to_end(str(EXAMPLES / "pipe.py"), "0")
    plain = subprocess.run([sys.executable, str(EXAMPLES / "pipe.py"), "0"], capture_output=True, text=True)
    assert done.returncode == 0
    program_lines = [line for line in done.stdout.splitlines() if not line.startswith("mpscope ")]
    assert program_lines == plain.stdout.splitlines()
    assert run_to_end(str(EXAMPLES / "bad" / "exits_at_once.py")).returncode == 4


# What each tutorial program prints, numbers and list contents masked (PIDs, and how far a
# shared list had grown, differ from run to run): every line whole, none lost or doubled.
TUTORIAL_OUTPUT = {
    ("process.py", "0.05"): {"main process N": 1, "hello mscN pid N parent N": 10,
                             "thread N in process N": 10},
    ("mp_queue.py", "0"): {"parent N got [...]": 1},
    ("pipe.py", "0"): {"[...]": 2, "child received: data from parent_conn": 1},
    ("lock.py", "0"): {"hello world N": 10},
    ("pool_callbacks.py", "0.05"): {
        "main process: N": 1,
        "end": 1,
        "in process N": 10,
        "-->exec done: N in N": 10,
        "[...]": 1,
        "error_callback: task N failed on purpose": 1,
    },
    ("manager.py",): {"[...]": 11, "{N: N, N: N, N: N, N: N, N: N, N: N, N: N, N: N, N: N, N: N}": 1},
    ("producer_consumer.py", "5"): {"producer-N produced N items": 2, "consumer N handled N items": 2,
                                    "all N items handled": 1},
    ("spawn_program.py", "0.05"): {"spawned started by spawn: N spawned-child": 1, "cubes: [...]": 1},
    ("executor.py", "0.05"): {"squares: [...]": 1, "mapped: [...]": 1,
                              "failure: RuntimeError('no luck with N')": 1, "main N done": 1},
}  # fmt: skip


@pytest.mark.parametrize("example", list(TUTORIAL_OUTPUT), ids=lambda example: example[0])
def test_the_tutorials_programs_run_and_print_every_line_whole(example: tuple[str, ...]):
    script, *args = example
    done = run_to_end(str(EXAMPLES / script), *args)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("mpscope running at")]
    shapes = collections.Counter(re.sub(r"\d+", "N", re.sub(r"\[.*\]", "[...]", line)) for line in lines)
    assert shapes == TUTORIAL_OUTPUT[example]


def test_module_mode_runs_python_dash_m(tmp_path: Path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tool.py").write_text("import sys\nprint('tool', sys.argv[1:])\nsys.exit(7)\n")
    done = run_to_end("-m", "pkg.tool", "a", "b", cwd=tmp_path)
    assert done.returncode == 7
    assert "tool ['a', 'b']" in done.stdout


def test_a_missing_script_is_a_clear_error_and_starts_nothing(tmp_path: Path):
    done = run_to_end(str(tmp_path / "nope.py"))
    assert done.returncode == 2
    assert "no such file" in done.stderr
    assert "mpscope running" not in done.stdout


def test_another_interpreter_with_dash_dash_python(tmp_path: Path):
    program = write(tmp_path, "import sys\nprint(sys.executable)\n")
    done = run_to_end("--python", sys.executable, str(program))
    assert done.returncode == 0 and sys.executable in done.stdout
    assert run_to_end("--python", str(tmp_path / "no-python"), str(program)).returncode == 2


# -- every process of the program, for every start method ------------------------------------
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_every_process_is_listed_with_name_role_exit_and_its_own_output(tmp_path: Path, method: str):
    program = write(tmp_path, THREE_KINDS)
    srv = RunServer(tmp_path, str(program), method)
    api = Api(srv)
    try:
        info = wait_program(api)
        assert info["state"] == "exited" and info["exitcode"] == 0, srv.output()
        table = wait_for(
            lambda: (
                (t := processes(api)) and all(w["state"] in ("exited", "killed") for w in t.values()) and t
            ),
            15,
            "every process to end",
        )
        roles = {w["role"] for w in table.values()}
        assert {"main", "process", "pool", "manager"} <= roles, table
        main = next(w for w in table.values() if w["role"] == "main")
        assert main["pid"] == info["pid"] and main["name"] == "MainProcess"
        child = by_name(api, "the-child")
        assert child["role"] == "process" and child["exitcode"] == 0
        assert sum(w["role"] == "pool" for w in table.values()) == 2
        assert any(w["role"] == "manager" and w["name"].startswith("SyncManager") for w in table.values())
        # the child's lines are the child's, though (under fork) it inherited its parent's stdout
        lines = api.get_json(f"/api/workers/{child['pid']}/output")["lines"]
        assert [(line["stream"], line["text"]) for line in lines] == [
            ("stdout", f"child {child['pid']} writes to stdout"),
            ("stderr", f"child {child['pid']} writes to stderr"),
        ]
        main_lines = [line["text"] for line in api.get_json(f"/api/workers/{main['pid']}/output")["lines"]]
        assert main_lines == ["squares [0, 1, 4, 9, 16, 25]", f"main {main['pid']} done"]
        tasks = pool_tasks(api)
        assert tasks and all(t["state"] == "done" and t["func"] == "square" for t in tasks)
        assert {t["pid"] for t in tasks} <= {w["pid"] for w in table.values() if w["role"] == "pool"}
    finally:
        api.close()
        srv.stop()


# -- stacks and signals ---------------------------------------------------------------------
WAITER = textwrap.dedent(
    """
    import multiprocessing as mp, time

    def nap_in_child():
        while True:
            time.sleep(0.05)

    if __name__ == "__main__":
        mp.set_start_method("spawn")
        children = [mp.Process(target=nap_in_child, name=f"napper-{i}") for i in range(2)]
        for c in children:
            c.start()
        for c in children:
            c.join()
        print("codes", [c.exitcode for c in children], flush=True)
        while True:
            time.sleep(0.05)
    """
)


def test_stack_kill_and_minus_9_reach_the_programs_processes_only(tmp_path: Path):
    program = write(tmp_path, WAITER)
    stranger = subprocess.Popen(["sleep", "30"])
    srv = RunServer(tmp_path, str(program))
    api = Api(srv)
    try:
        first = wait_for(lambda: by_name(api, "napper-0"), 20, "napper-0")
        second = wait_for(lambda: by_name(api, "napper-1"), 20, "napper-1")

        def functions() -> list[str]:
            answer = api.request("GET", f"/api/workers/{first['pid']}/stack")
            assert answer.status_code in (200, 504), answer.text
            return [f["function"] for t in answer.json().get("threads", []) for f in t["frames"]]

        # the first stacks may still show the spawned child importing its program
        wait_for(lambda: "nap_in_child" in functions(), 15, "the child's stack to show nap_in_child")
        for pid in (stranger.pid, srv.pid, 1):
            assert api.kill(pid, "KILL").status_code == 404
        assert stranger.poll() is None
        assert api.kill(first["pid"], "TERM").status_code == 202
        assert api.kill(second["pid"], "KILL").status_code == 202
        wait_for(lambda: by_name(api, "napper-0")["signal"] == "SIGTERM", 10, "napper-0 killed by SIGTERM")
        wait_for(lambda: by_name(api, "napper-1")["signal"] == "SIGKILL", 10, "napper-1 killed by SIGKILL")
        assert by_name(api, "napper-0")["state"] == "killed"
        assert api.request("GET", f"/api/workers/{first['pid']}/stack").status_code == 404
        assert api.kill(first["pid"]).status_code == 404  # ended: never signalled again
    finally:
        stranger.kill()
        stranger.wait()
        api.close()
        srv.stop()


@pytest.mark.parametrize("run_server", [("bad/ignores_sigterm.py",)], indirect=True)
def test_stop_ends_a_program_that_ignores_sigterm_and_run_again_restarts_it(
    run_server: RunServer, run_api: Api
):
    first = wait_for(lambda: by_name(run_api, "stubborn-child"), 20, "the stubborn child")
    assert run_api.request("POST", "/api/program/start").status_code == 409
    assert run_api.request("POST", "/api/program/stop").status_code == 202
    info = wait_program(run_api, ("killed",), 15)
    assert info["signal"] == "SIGKILL"
    wait_for(lambda: by_name(run_api, "stubborn-child")["state"] == "killed", 10, "the child to be killed")
    assert not psutil.pid_exists(first["pid"]) or not is_alive(psutil.Process(first["pid"]))
    assert run_api.request("POST", "/api/program/stop").status_code == 409
    answer = run_api.request("POST", "/api/program/start")
    assert answer.status_code == 201, answer.text
    assert answer.json()["program"]["state"] == "running"
    assert answer.json()["program"]["pid"] != info["pid"]
    again = wait_for(lambda: (c := by_name(run_api, "stubborn-child")) and c["state"] == "running" and c, 20)
    assert again["pid"] != first["pid"]


# -- pool tasks -------------------------------------------------------------------------------
@pytest.mark.parametrize("run_server", [("pool_callbacks.py", "0.1")], indirect=True)
def test_pool_tasks_show_each_task_its_worker_failures_and_where_callbacks_ran(run_server, run_api):
    client = LiveClient(run_api.url)
    try:
        info = wait_program(run_api)
        tasks = wait_for(lambda: (t := pool_tasks(run_api)) and len(t) == 15 and t, 10, "15 tasks")
        workers = {w["pid"]: w for w in run_api.state()["workers"] if w["role"] == "pool"}
        foo = [t for t in tasks if t["func"] == "foo"]
        assert len(foo) == 10 and all(t["state"] == "done" for t in foo)
        assert all(t["pid"] in workers and t["queued_at"] <= t["started_at"] <= t["ended_at"] for t in foo)
        assert all(t["callback"]["pid"] == info["pid"] for t in foo)  # callbacks run in the parent
        assert all("_handle_results" in t["callback"]["thread"] for t in foo)
        chunks = [t for t in tasks if t["func"] == "square"]
        assert len(chunks) == 4 and {t["items"] for t in chunks} == {5}
        (failed,) = [t for t in tasks if t["state"] == "failed"]
        assert failed["func"] == "fails" and "ValueError: task 7 failed on purpose" in failed["error"]
        assert failed["callback"]["error_callback"] is True
        assert {t["pool"].split(" ")[0] for t in tasks} == {"Pool-1", "Pool-2"}
        ids = {t["id"] for t in tasks}
        client.wait(
            lambda: (
                ids
                == {t["id"] for m in client.received("pool_tasks") for t in m["tasks"]}
                | {t["id"] for snap in client.received("snapshot") for t in snap["pool_tasks"]}
            ),
            what="every task in the first snapshot or a pool_tasks event",
        )
    finally:
        client.close()


@pytest.mark.parametrize("run_server", [("executor.py", "0.05")], indirect=True)
def test_process_pool_executor_tasks_are_shown(run_server, run_api):
    wait_program(run_api)
    tasks = wait_for(lambda: (t := pool_tasks(run_api)) and len(t) == 9 and t, 10, "9 executor tasks")
    assert sorted(t["func"] for t in tasks) == ["fails"] + ["slow_square"] * 8
    (failed,) = [t for t in tasks if t["state"] == "failed"]
    assert "RuntimeError: no luck with 3" in failed["error"]
    assert all(t["pool"].startswith("ProcessPoolExecutor-1 (executor.py:") for t in tasks)


# -- bad programs ------------------------------------------------------------------------------
@pytest.mark.parametrize("run_server", [("bad/syntax_error.py",)], indirect=True)
def test_a_syntax_error_is_shown_as_the_programs_stderr(run_server, run_api):
    info = wait_program(run_api)
    assert info["exitcode"] == 1
    lines = wait_for(
        lambda: run_api.get_json(f"/api/workers/{info['pid']}/output")["lines"],
        10,
        "the main process's output",
    )
    assert any("SyntaxError" in line["text"] and line["stream"] == "stderr" for line in lines)
    assert "SyntaxError" in run_server.output()


@pytest.mark.parametrize("run_server", [("bad/child_dies.py",)], indirect=True)
def test_children_that_die_show_how(run_server, run_api):
    wait_program(run_api)
    killed = wait_for(lambda: by_name(run_api, "killed"), 10)
    raised = wait_for(lambda: by_name(run_api, "raises"), 10)
    assert (killed["state"], killed["signal"]) == ("killed", "SIGKILL")
    assert (raised["state"], raised["exitcode"]) == ("exited", 1)
    text = [line["text"] for line in run_api.get_json(f"/api/workers/{raised['pid']}/output")["lines"]]
    assert "RuntimeError: the child failed" in text


@pytest.mark.parametrize("run_server", [("bad/fork_200.py", "0.5")], indirect=True)
def test_two_hundred_processes_are_all_listed(run_server, run_api):
    info = wait_program(run_api)
    assert info["exitcode"] == 0
    table = wait_for(
        lambda: (t := processes(run_api)) and len(t) == 201 and all(w["ended_at"] for w in t.values()) and t,
        20,
        "201 ended processes",
    )
    assert sum(w["exitcode"] == 0 for w in table.values()) == 201


def test_ctrl_c_stops_the_program_and_leaves_nothing(tmp_path: Path):
    srv = RunServer(tmp_path, "bad/ignores_sigterm.py")
    api = Api(srv)
    try:
        wait_for(lambda: by_name(api, "stubborn-child"), 20, "the stubborn child")
        for w in processes(api).values():
            srv.track(w["pid"])
    finally:
        api.close()
    assert srv.terminate(signal.SIGINT, timeout=15) == 0
    assert srv.leftovers() == []


@pytest.mark.parametrize("run_server", [("bad/ignores_sigterm.py",)], indirect=True)
def test_socket_commands_stop_and_start_the_program_and_program_events_say_so(run_server, run_api):
    client = LiveClient(run_api.url)
    try:
        first = client.wait(lambda: client.received("snapshot"), what="a snapshot")[0]["program"]
        assert first["state"] == "running" and first["argv"] == [str(EXAMPLES / "bad" / "ignores_sigterm.py")]
        wait_for(lambda: by_name(run_api, "stubborn-child"), 20, "the program to ignore SIGTERM")
        answer = client.call("program_stop", {})
        assert answer["status"] == 202 and answer["program"]["pid"] == first["pid"]
        ended = client.wait(
            lambda: next((p for p in client.received("program") if p["state"] == "killed"), None),
            15,
            "a program event saying it was killed",
        )
        assert ended["signal"] == "SIGKILL" and ended["ended_at"] >= ended["started_at"]
        answer = client.call("program_start", {})
        assert answer["status"] == 201 and answer["program"]["state"] == "running"
        assert client.call("program_start", {})["status"] == 409
        assert client.call("spawn", {"count": 1})["status"] == 409  # no workers of our own here
    finally:
        client.close()


@pytest.mark.parametrize("run_server", [("--read-only", "bad/ignores_sigterm.py")], indirect=True)
def test_a_read_only_dashboard_cannot_stop_or_kill_the_program(run_server, run_api):
    main = wait_program(run_api, ("running",))
    assert run_api.request("POST", "/api/program/stop").status_code == 403
    assert run_api.kill(main["pid"], "KILL").status_code == 403
    assert run_api.state()["program"]["state"] == "running"
