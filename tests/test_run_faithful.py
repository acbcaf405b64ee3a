"""``mpscope run``: what a program does that it must not be able to tell apart from plain python.

Each test runs a real program under plain python and under a real ``mpscope run`` and
compares what it printed (issue 21's reproductions).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest
from run_support import PROGRAM_PYTHON, RunServer, processes, run_command, run_to_end, wait_program, write
from support import Api, wait_for

from webapp.processes import ProcessTable

pytestmark = pytest.mark.timeout(90)


STREAMS = textwrap.dedent(
    """
    import json, sys

    def facts(stream):
        return {
            "encoding": stream.encoding,
            "errors": stream.errors,
            "write_through": stream.write_through,
            "name": stream.name,
            "mode": stream.mode,
            "fileno": stream.fileno(),
            "buffer": type(stream.buffer).__name__,
            "raw_name": getattr(stream.buffer, "raw", stream.buffer).name,
        }

    before = {
        "stdout": facts(sys.stdout),
        "stderr": facts(sys.stderr),
        "same": [sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__],
    }
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    sys.stderr.reconfigure(errors="replace", line_buffering=False)
    sys.stdout.reconfigure(line_buffering=False)
    print(json.dumps(before, sort_keys=True))
    print("after", sys.stdout.encoding, sys.stdout.errors, "caf\\u00e9 \\udcff")
    sys.stdout.flush()
    print("to stderr", sys.stderr.errors, file=sys.stderr)
    """
)


def _run_to_files(command: list[str], tmp_path: Path, tag: str, env: dict) -> tuple[int, str, str]:
    out, err = tmp_path / f"{tag}.out", tmp_path / f"{tag}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.run(
            command, stdout=stdout, stderr=stderr, env=env, cwd=tmp_path, timeout=60
        ).returncode
    return code, out.read_text(errors="replace"), err.read_text(errors="replace")


def _programs(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("mpscope")]


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "python-u"])
def test_stdout_to_a_regular_file_can_be_reconfigured_as_under_plain_python(tmp_path: Path, unbuffered: str):
    # mpscope's own stdout a regular file: the program's sys.stdout was made for a seekable
    # file, fd 1 is now our pipe; reconfigure() raised ESPIPE (Illegal seek)
    program = write(tmp_path, STREAMS)
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    plain = _run_to_files([PROGRAM_PYTHON, str(program)], tmp_path, "plain", env)
    watched = _run_to_files(
        run_command(str(program)),
        tmp_path,
        "watched",
        env,
    )
    assert plain[0] == 0, plain[2]
    assert watched[0] == 0, watched[2]
    assert _programs(watched[1]) == _programs(plain[1])
    assert _programs(watched[2]) == _programs(plain[2])


BARRIER = textwrap.dedent(
    """
    import multiprocessing as mp, threading

    class AppendTrue:
        def __init__(self, obj):
            self.obj = obj

        def __call__(self):
            self.obj.append(True)

    class Fails:
        def __call__(self):
            raise RuntimeError("action failed")

    if __name__ == "__main__":
        with mp.Manager() as m:
            l = m.list()
            b = m.Barrier(1, action=AppendTrue(l))  # CPython's WithManagerTestBarrier.test_action
            print(b.wait(), b.wait())
            print(list(l))
            failing = m.Barrier(1, action=Fails())
            try:
                failing.wait()
            except Exception as exc:
                print("raised", type(exc).__name__)
            print("broken", failing.broken)
            failing.reset()
            print("after reset", failing.broken, failing.n_waiting)
            pair = m.Barrier(2, action=AppendTrue(l), timeout=10)
            indexes = []
            t = threading.Thread(target=lambda: indexes.append(pair.wait()))
            t.start()
            indexes.append(pair.wait())
            t.join()
            print("indexes", sorted(indexes))
            print(list(l), pair.n_waiting)
    """
)


def test_a_barrier_whose_action_calls_back_into_the_manager_behaves_as_with_a_plain_manager(tmp_path: Path):
    program = write(tmp_path, BARRIER)
    plain = subprocess.run([PROGRAM_PYTHON, str(program)], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    watched = run_to_end(str(program))  # deadlocked in the Manager (the action's append waited for ever)
    assert watched.returncode == 0, watched.stderr
    assert _programs(watched.stdout) == plain.stdout.splitlines()
    assert "[True, True]" in plain.stdout.splitlines()


SHORT_LIVED = textwrap.dedent(
    """
    import multiprocessing as mp, sys

    def nothing():
        pass

    if __name__ == "__main__":
        ctx = mp.get_context(sys.argv[1])
        children = [ctx.Process(target=nothing) for _ in range(12)]
        for child in children:
            child.start()
        for child in children:
            child.join()
        if sys.argv[1] == "forkserver":
            from multiprocessing import forkserver
            print("forkserver", forkserver._forkserver._forkserver_pid)
    """
)


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_child_that_ends_at_once_still_has_its_parent(tmp_path: Path, method: str):
    # a child gone before the dashboard could look it up had "ppid": null (issue 21, item 3)
    srv = RunServer(tmp_path, str(write(tmp_path, SHORT_LIVED)), method)
    api = Api(srv)
    try:
        info = wait_program(api)
        assert info["exitcode"] == 0, srv.output()

        def twelve_ended() -> dict | None:
            # the parent's word on each child and each child's own hello are read in any order
            table = processes(api)
            children = [w for w in table.values() if re.fullmatch(r"\w*Process-\d+", w["name"])]
            ended = all(w["state"] in ("exited", "killed") for w in table.values())
            return table if ended and len(children) == 12 else None

        table = wait_for(twelve_ended, 15, "twelve children listed, every process ended")
        children = [w for w in table.values() if re.fullmatch(r"\w*Process-\d+", w["name"])]
        parent = info["pid"]
        if method == "forkserver":
            parent = int(
                next(line for line in srv.output().splitlines() if line.startswith("forkserver ")).split()[1]
            )
            assert table[parent]["ppid"] == info["pid"]
        assert [w["ppid"] for w in children] == [parent] * 12
        assert all(isinstance(w["ppid"], int) for w in table.values()), table
    finally:
        api.close()
        srv.stop()


def test_the_tutorials_manager_example_lists_its_ten_children_under_the_main_process(tmp_path: Path):
    # about half of the runs listed 9: one child's PPID was null, so it was nobody's child
    srv = RunServer(tmp_path, "manager.py")
    api = Api(srv)
    try:
        main = wait_program(api)["pid"]

        def children_roles() -> list[str] | None:
            table = processes(api)
            roles = sorted(w["role"] for w in table.values() if w["ppid"] == main)
            ended = all(w["state"] in ("exited", "killed") for w in table.values())
            return roles if ended and len(roles) >= 11 else None

        roles = wait_for(children_roles, 15, "eleven children of the main process, every process ended")
        assert roles == ["manager"] + ["process"] * 10
    finally:
        api.close()
        srv.stop()


def test_the_table_keeps_the_parent_it_was_told_of_a_process_already_gone():
    # real processes, already reaped: psutil cannot tell their parent any more
    gone = [subprocess.Popen(["true"]) for _ in range(2)]
    for child in gone:
        child.wait()
    table = ProcessTable(lambda infos, removed: None, lambda pid, request: False, lambda pid: None)
    try:
        table.seen(gone[0].pid, "process", "Process-1", told=True, ppid=os.getpid())  # its parent's proc
        table.seen(gone[1].pid, "process", "Process-2", ppid=os.getpid())  # its own hello
        table.seen(gone[0].pid, "process", "Process-1", ppid=1)  # a later hello: the first word stays
        assert [table.get(child.pid).ppid for child in gone] == [os.getpid(), os.getpid()]
        # and the kernel's word comes first, while the process runs
        table.seen(os.getpid(), "process", "me", ppid=12345)
        assert table.get(os.getpid()).ppid == os.getppid()
    finally:
        table.close()


def test_a_child_its_parent_started_and_reaped_before_its_hello_is_listed_ended_at_once():
    # under load the parent's "proc" and "exit" are read long before the child's own hello
    gone = subprocess.Popen(["true"])
    gone.wait()
    table = ProcessTable(lambda infos, removed: None, lambda pid, request: False, lambda pid: None)
    try:
        assert not table.child_told(os.getpid(), gone.pid, "process", "ForkProcess-1", os.getpid())
        table.exited(gone.pid, 0)
        record = table.get(gone.pid)
        assert (record.name, record.state, record.exitcode, record.ppid) == (
            "ForkProcess-1",
            "exited",
            0,
            os.getpid(),
        )
        assert not record.signal_if_alive(signal.SIGTERM)
        table.seen(
            gone.pid, "process", "MainProcess", ppid=os.getpid()
        )  # its hello, late: the parent's name stays
        assert (table.get(gone.pid).name, table.get(gone.pid).state) == ("ForkProcess-1", "exited")
    finally:
        table.close()
