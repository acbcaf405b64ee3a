"""Stopping the server (and losing its Manager): each test gets a server of its own to break."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
from support import MARK, REPO, Api, LiveClient, is_alive, wait_for

from testkit.processes import processes_marked
from testkit.server import Server


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_server_ends_it_and_every_process_it_started(fresh_server: Server, sig):
    api = Api(fresh_server)
    client = LiveClient(fresh_server.url)  # an open page must not keep the server up
    try:
        workers = api.spawn(2) + api.spawn(1, "sleep", seconds=600) + api.spawn(1, "cpu", seconds=600)
        wait_for(lambda: len(api.state()["list"]) == 2, what="the append_pid workers to write")
        manager_pid = api.health()["manager_pid"]
        everything = fresh_server.track_descendants()
        pids = {p.pid for p in everything}
        assert {w["pid"] for w in workers} | {manager_pid} <= pids
        assert len(pids) >= len(workers) + 2  # the Manager and the forkserver at least

        assert fresh_server.terminate(sig, timeout=10) == 0
        assert wait_for(lambda: not any(is_alive(p) for p in everything), 10, "every descendant to end")
        assert fresh_server.marked() == []
        wait_for(lambda: not client.client.connected, what="the page to be disconnected")
    finally:
        client.close()
        api.close()


def test_a_second_server_on_a_busy_port_exits_with_code_2_and_leaves_nothing(
    fresh_server: Server, tmp_path: Path
):
    port = fresh_server.url.rsplit(":", 1)[1]
    mark = f"busy-port-{uuid.uuid4().hex}"
    with open(tmp_path / "second.log", "wb") as log:
        second = subprocess.Popen(
            [sys.executable, "-m", "webapp", "--port", port],
            cwd=REPO,
            env={**os.environ, MARK: mark},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        code = second.wait(timeout=8)
    except subprocess.TimeoutExpired:
        code = "hung"
    try:
        wait_for(lambda: not processes_marked(mark), 3, "the second server's processes to end")
        left = []
    except AssertionError:
        left = processes_marked(mark)
    for process in left:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    if second.poll() is None:
        second.kill()
        second.wait()
    output = (tmp_path / "second.log").read_text()
    assert Api(fresh_server).health()["status"] == "ok"  # the first server is unharmed
    assert left == [], f"left behind: {[p.pid for p in left]}\n{output}"
    assert code == 2, output
    assert f"cannot listen on 127.0.0.1:{port}" in output


def test_a_killed_manager_is_replaced_with_the_state_it_had(fresh_server: Server):
    api = Api(fresh_server)
    try:
        workers = api.spawn(2, "append_pid", interval=0.05)
        state = wait_for(lambda: len((s := api.state())["list"]) == 2 and s, what="both PIDs listed")
        old_manager = api.health()["manager_pid"]
        psutil.Process(old_manager).kill()

        def replaced_manager() -> dict | None:
            health = api.health()  # during the restart, manager_pid is briefly null
            return health if health["manager_restarts"] == 1 and health["manager_pid"] else None

        health = wait_for(replaced_manager, 20, "a new Manager")
        assert health["manager_pid"] != old_manager
        fresh_server.track(health["manager_pid"])
        # the list survives, and the restarted workers append their own PIDs to it
        replaced = wait_for(
            lambda: len(r := [w for w in api.state()["workers"] if w["restarted_from"]]) == 2 and r,
            20,
            "replacement workers",
        )
        for info in replaced:
            fresh_server.track(info["pid"])
        assert {w["restarted_from"] for w in replaced} == {w["pid"] for w in workers}
        final = wait_for(lambda: len((s := api.state())["list"]) == 4 and s, 20, "the new PIDs listed")
        assert final["list"][:2] == state["list"]
        assert sorted(final["list"][2:]) == sorted(w["pid"] for w in replaced)
        manager = api.state(source="manager")
        assert manager["list"][:4] == final["list"]
    finally:
        api.close()


def test_sigterm_to_the_whole_process_group_stops_without_restarting_the_manager(tmp_path: Path):
    """``timeout``, ``kill -TERM -PGID`` and service managers signal the whole group: the
    Manager gets the SIGTERM too, and its death must not start another one on the way out."""
    mark = f"group-term-{uuid.uuid4().hex}"
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "webapp", "--port", "0"],
            cwd=REPO,
            env={**os.environ, MARK: mark},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "mpscope running at" in log_path.read_text(), 20, "the server to listen")
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(timeout=15) == 0, log_path.read_text()
        wait_for(lambda: not processes_marked(mark), 10, "every process of the server to end")
    finally:
        for process in processes_marked(mark):
            process.kill()
        if server.poll() is None:
            server.kill()
            server.wait()
    output = log_path.read_text()
    assert "restart" not in output.lower() and "mpscope stopped" in output, output
