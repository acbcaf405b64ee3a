"""``mpscope run``: the program's processes by kernel parentage, not only by agent connection.

A child that closes its agent connection (``os.dup2`` over the socket) runs on: it stays
``running`` with a note, and Kill reaches it. A double-forked daemon, a
``Popen(start_new_session=True)`` child and a double-forked ``sleep`` have no connection
(or lose their parent): they are listed, and Stop and Ctrl-C leave none of them running.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from run_support import RunServer, processes, wait_program, write
from support import Api, wait_for

pytestmark = pytest.mark.timeout(120)

LEAVES = """
import os, subprocess, sys, time

pids = sys.argv[1]


def note(what, pid):
    # the two grandchildren write in their own time: each line says which it is
    with open(pids, "a") as f:
        f.write(f"{what} {pid}\\n")


def double_fork(what, argv=None):
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            note(what, os.getpid())
            if argv:
                os.execvp(argv[0], argv)
            os.setsid()  # a daemon
            while True:
                time.sleep(1)
        os._exit(0)
    os.waitpid(middle, 0)


if __name__ == "__main__":
    double_fork("1-daemon")
    double_fork("2-sleep", ["sleep", "300"])
    note("3-popen", subprocess.Popen(["sleep", "300"], start_new_session=True).pid)
    time.sleep(300)
"""

DUP2 = """
import os, sys, time
from multiprocessing import Process


def cut_off(ready):
    # every socket of this process is its agent's: point them at /dev/null, as a program
    # that reuses descriptor numbers might
    null = os.open(os.devnull, os.O_RDWR)
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                os.dup2(null, int(fd))
        except OSError:
            pass
    open(ready, "w").close()
    time.sleep(300)


if __name__ == "__main__":
    child = Process(target=cut_off, args=(sys.argv[1],), name="cut-off")
    child.start()
    child.join()
    print("child ended with", child.exitcode, flush=True)
"""


def started(path: Path, count: int) -> list[psutil.Process]:
    """The ``count`` processes the program wrote down, each checked alive, in the order of their
    tags (the daemon, the double-forked ``sleep``, the ``Popen`` one), whatever order they wrote in."""

    def read() -> list[int] | None:
        lines = sorted(line.split() for line in path.read_text().splitlines()) if path.exists() else []
        return [int(pid) for _, pid in lines] if len(lines) == count else None

    found = []
    for pid in wait_for(read, 20, f"{count} PIDs from the program"):
        process = psutil.Process(pid)
        wait_for(lambda p=process: p.status() != psutil.STATUS_ZOMBIE and p.cmdline(), 10, "it to run")
        found.append(process)
    return found


def running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def reap(leftovers: list[psutil.Process]) -> list[int]:
    """Kill whatever of ``leftovers`` still runs (the test's own cleanup); return their PIDs."""
    alive = [p for p in leftovers if running(p)]
    for process in alive:
        process.kill()
    return [p.pid for p in alive]


def listed_running(api: Api, pids: list[int], noted: tuple[int, ...] = ()) -> dict[int, dict] | None:
    """The rows of ``pids`` once each is running (and each of ``noted`` shown without an agent)."""
    table = processes(api)
    if all(table.get(pid, {}).get("state") == "running" for pid in pids) and all(
        table[pid]["note"] for pid in noted
    ):
        return {pid: table[pid] for pid in pids}
    return None


@contextlib.contextmanager
def leaves(tmp_path: Path) -> Iterator[tuple[RunServer, Api, list[psutil.Process]]]:
    """``mpscope run`` on LEAVES, and the three processes it leaves, each running; a block that
    ends normally must have left none of them running (whichever still runs is killed after)."""
    pids = tmp_path / "pids"
    srv = RunServer(tmp_path, str(write(tmp_path, LEAVES)), str(pids))
    api = Api(srv)
    leftovers: list[psutil.Process] = []
    try:
        leftovers = started(pids, 3)
        yield srv, api, leftovers
    finally:
        api.close()
        left = reap(leftovers)
        srv.stop()
    assert left == []


def test_stop_leaves_no_daemon_no_new_session_child_and_no_double_forked_sleep(tmp_path: Path):
    with leaves(tmp_path) as (srv, api, leftovers):
        # the sleeps are shown without an agent, by their command line (the daemon has its agent)
        sleeps = (leftovers[1].pid, leftovers[2].pid)
        rows = wait_for(
            lambda: listed_running(api, [p.pid for p in leftovers], sleeps), 20, "all three listed"
        )
        assert [rows[pid]["name"] for pid in sleeps] == ["sleep 300", "sleep 300"]
        assert api.request("POST", "/api/program/stop").status_code == 202
        wait_program(api)
        wait_for(lambda: not any(map(running, leftovers)), 10, "every leftover to be stopped")
        assert "left running" not in srv.log()


def test_ctrl_c_leaves_no_daemon_no_new_session_child_and_no_double_forked_sleep(tmp_path: Path):
    with leaves(tmp_path) as (srv, api, leftovers):
        wait_for(lambda: listed_running(api, [p.pid for p in leftovers]), 20, "all three listed")
        api.close()
        assert srv.terminate(signal.SIGINT, timeout=15) == 0
        assert not any(map(running, leftovers)), srv.log()


def test_a_child_that_closes_its_agent_connection_stays_running_and_can_be_killed(tmp_path: Path):
    ready = tmp_path / "ready"
    srv = RunServer(tmp_path, str(write(tmp_path, DUP2)), str(ready))
    api = Api(srv)
    try:
        child = wait_for(
            lambda: next((w for w in processes(api).values() if w["name"] == "cut-off"), None),
            20,
            "the child",
        )
        wait_for(ready.exists, 20, "the child to cut its agent off")
        # its agent's thread still blocks on the socket it had: a request wakes it up, to
        # find /dev/null in its place (then the dashboard's end of the connection closes)
        api.request("GET", f"/api/workers/{child['pid']}/stack")
        row = wait_for(
            lambda: (w := processes(api)[child["pid"]])["note"] and w, 10, "the child shown without its agent"
        )
        assert row["state"] == "running"
        assert psutil.Process(child["pid"]).is_running()
        stack = api.request("GET", f"/api/workers/{child['pid']}/stack")
        assert stack.status_code == 404 and "runs without mpscope's agent" in stack.json()["error"]
        assert (
            api.request("DELETE", f"/api/workers/{child['pid']}", params={"signal": "KILL"}).status_code
            == 202
        )
        wait_for(lambda: processes(api)[child["pid"]]["state"] == "killed", 10, "the child shown killed")
        wait_program(api)
        assert "child ended with -9" in srv.out_path.read_text()
    finally:
        api.close()
        srv.stop()
