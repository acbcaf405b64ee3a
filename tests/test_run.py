"""``mpscope run``: a user's own program runs unchanged and every process of it is on the dashboard.

Every test runs a real program (from examples/, or written to a temporary file) under a
real ``python -m webapp run`` and looks at it through the REST API and Socket.IO.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from run_support import (
    EXAMPLES,
    PROGRAM_PYTHON,
    RunServer,
    by_name,
    pool_tasks,
    processes,
    run_to_end,
    wait_program,
    write,
)
from support import Api, wait_for

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
    plain = subprocess.run([PROGRAM_PYTHON, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
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
    plain = subprocess.run([PROGRAM_PYTHON, str(EXAMPLES / "pipe.py"), "0"], capture_output=True, text=True)
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
        # (in either order: stdout is block-buffered, as plain python's to a file, stderr is not)
        lines = api.get_json(f"/api/workers/{child['pid']}/output")["lines"]
        assert sorted((line["stream"], line["text"]) for line in lines) == [
            ("stderr", f"child {child['pid']} writes to stderr"),
            ("stdout", f"child {child['pid']} writes to stdout"),
        ]
        main_lines = [line["text"] for line in api.get_json(f"/api/workers/{main['pid']}/output")["lines"]]
        assert main_lines == ["squares [0, 1, 4, 9, 16, 25]", f"main {main['pid']} done"]
        tasks = pool_tasks(api)
        assert tasks and all(t["state"] == "done" and t["func"] == "square" for t in tasks)
        assert {t["pid"] for t in tasks} <= {w["pid"] for w in table.values() if w["role"] == "pool"}
    finally:
        api.close()
        srv.stop()


def test_the_dashboard_starts_no_process_of_its_own_and_has_no_builtin_manager(tmp_path: Path):
    """Under ``mpscope run`` every process below the dashboard is the program's: no Manager, no
    forkserver (their start-up took CPU from the program). What needs the built-in Manager
    says so with a 409; the page shows no "Manager PID"."""
    srv = RunServer(tmp_path, str(write(tmp_path, "print('done')\n")))
    api = Api(srv)
    try:
        assert wait_program(api)["exitcode"] == 0
        wait_for(lambda: not srv.descendants(), 10, "the program's processes to go")
        health = api.health()
        assert health["manager_pid"] is None and api.state()["manager"]["pid"] is None
        for method, path in [("GET", "/api/state?source=manager"), ("POST", "/api/state/reset")]:
            response = api.request(method, path)
            assert response.status_code == 409 and "program" in response.json()["error"], response.text
        assert not srv.descendants()
    finally:
        api.close()
        srv.stop()


def test_a_program_with_its_own_sharedstate_module_runs_as_under_plain_python(tmp_path: Path):
    """mpscope's recording types live in a package called ``sharedstate``; a program with a
    module of that name keeps it (its Manager then runs unrecorded rather than broken)."""
    write(tmp_path, "VALUE = 'the program s own'\n", "sharedstate.py")
    program = write(
        tmp_path,
        textwrap.dedent(
            """
            import multiprocessing as mp
            import sharedstate

            if __name__ == "__main__":
                with mp.Manager() as manager:
                    d = manager.dict()
                    d["k"] = sharedstate.VALUE
                    print(dict(d))
            """
        ),
    )
    plain = subprocess.run([PROGRAM_PYTHON, program], capture_output=True, text=True, timeout=60)
    watched = run_to_end(str(program))  # the program's directory comes first on its sys.path
    assert plain.returncode == 0 and plain.stdout == "{'k': 'the program s own'}\n", plain.stderr
    assert watched.returncode == 0 and watched.stdout.endswith("\n" + plain.stdout), watched.stderr
