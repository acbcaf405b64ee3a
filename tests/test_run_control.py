"""``mpscope run``: stacks, Kill and -9 on the program's processes only, Stop and Run again, read-only."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import psutil
import pytest
from run_support import (
    EXAMPLES,
    RunServer,
    by_name,
    wait_program,
    write,
)
from support import Api, LiveClient, is_alive, wait_for

pytestmark = pytest.mark.timeout(90)


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


@pytest.mark.parametrize("run_server", [("bad/ignores_sigterm.py",)], indirect=True)
def test_socket_commands_stop_and_start_the_program_and_program_events_say_so(run_server, run_api):
    client = LiveClient(run_api)
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
