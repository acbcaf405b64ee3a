"""``mpscope run`` believes the kernel, not the program, and bounds what an agent connection may cost.

A process's own messages cannot make mpscope list or signal a process that is not the
program's (issue 21, Security 1); an agent connection that never says hello, hoards
descriptors, sends lines that are not objects or a huge value costs the dashboard a bounded,
linear amount (Security 5 and 9).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from run_support import RunServer, by_name, processes, wait_program, write
from support import Api, wait_for

from mpscope_agent import protocol
from webapp.agents.listener import AgentListener
from webapp.program.pool_tasks import PoolTaskTable

pytestmark = pytest.mark.timeout(120)

# Names an outside process (argv[1]) and mpscope itself (its parent) as its children, then
# starts a real one: its ``proc`` comes after the two on the same connection.
FAKE_CHILDREN = textwrap.dedent(
    """
    import multiprocessing as mp, os, subprocess, sys, time
    import mpscope_agent.agent as agent

    def nap():
        while True:
            time.sleep(0.05)

    if __name__ == "__main__":
        for pid in (int(sys.argv[1]), os.getppid()):
            agent.channel.send({"t": "proc", "pid": pid, "ppid": os.getpid(), "name": "fake", "role": "pool"})
        sleeper = subprocess.Popen(["sleep", "60"])  # its own child: listed, under a name kept short
        agent.channel.send({"t": "proc", "pid": sleeper.pid, "name": "n" * 10**7, "role": "r" * 10**7})
        child = mp.Process(target=nap, name="real-child")
        child.start()
        child.join()
    """
)


def test_a_program_cannot_make_mpscope_list_or_signal_a_process_that_is_not_its_own(tmp_path: Path, stranger):
    program = write(tmp_path, FAKE_CHILDREN)
    srv = RunServer(tmp_path, str(program), str(stranger.pid))
    api = Api(srv)
    try:
        wait_for(lambda: by_name(api, "real-child"), 30, "the program's real child")
        listed = processes(api)
        assert stranger.pid not in listed and srv.pid not in listed
        assert by_name(api, "fake") is None
        named = [w for w in listed.values() if w["name"].startswith("n")]
        assert len(named) == 1 and len(named[0]["name"]) == 200 and len(named[0]["role"]) <= 40
        for pid in (stranger.pid, srv.pid):
            for sig in ("TERM", "KILL"):
                answer = api.kill(pid, sig)
                assert answer.status_code == 404 and "error" in answer.json()
        # kill everything listed (the program and its real child), as -9 on every row would
        answer = api.request("DELETE", "/api/workers", params={"state": "running", "signal": "KILL"})
        assert answer.status_code == 202, answer.text
        wait_program(api)
        assert stranger.poll() is None and srv.proc.poll() is None
        assert "which is not its child" in srv.log()
    finally:
        api.close()
        srv.stop()  # SIGTERM, as Ctrl-C: kills what is left of the program
    assert stranger.poll() is None, "mpscope signalled a process that is not the program's"


# Tells where its agent connects, and the key: an outside process that has them (any process
# of the user) can connect as an agent; the kernel then names it, and it is never the program's.
TELLS_ITS_KEY = textwrap.dedent(
    """
    import time
    import mpscope_agent.agent as agent

    print("agent", agent.channel.directory, agent.channel.key, flush=True)
    while True:
        time.sleep(0.05)
    """
)
OUTSIDER = textwrap.dedent(
    """
    import json, os, socket, sys, time

    directory, key, version = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(directory, "agent.sock"))
    hello = {"t": "hello", "key": key, "v": version, "pid": os.getpid(), "name": "outsider", "streams": []}
    sock.sendall(json.dumps(hello).encode() + b"\\n")
    time.sleep(60)
    """
)


def test_an_outside_process_that_connects_as_an_agent_is_never_signalled(tmp_path: Path):
    program = write(tmp_path, TELLS_ITS_KEY)
    srv = RunServer(tmp_path, str(program))
    api = Api(srv)
    outsider = None
    try:
        told = wait_for(
            lambda: next((ln.split() for ln in srv.output().splitlines() if ln.startswith("agent ")), None),
            30,
            "the program to say where its agent connects",
        )
        command = [sys.executable, "-c", OUTSIDER, told[1], told[2], str(protocol.VERSION)]
        outsider = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        wait_for(lambda: outsider.pid in processes(api), 30, "the outsider's connection")
        for sig in ("TERM", "KILL"):
            assert api.kill(outsider.pid, sig).status_code == 404
        answer = api.request("DELETE", "/api/workers", params={"state": "running", "signal": "KILL"})
        assert answer.status_code == 202, answer.text
        wait_program(api)
        assert outsider.poll() is None
    finally:
        api.close()
        srv.stop()
        alive = outsider is not None and outsider.poll() is None
        if outsider is not None:
            outsider.kill()
            outsider.wait()
    assert alive, "mpscope signalled a process that is not the program's"


# -- Pool callbacks (Security 4) ---------------------------------------------------------------
def test_pool_task_events_cost_the_same_however_many_tasks_are_kept():
    """A full table (5,000 tasks, none finished) must not make each event scan it: 20,000
    tasks' queued, callback, start and end events took minutes when callbacks and trimming
    scanned every kept task."""
    emitted = []
    table = PoolTaskTable(emitted.extend, cap=5000)

    def event(ev: str, job: int, **fields) -> dict:
        return {"owner": 1, "kind": "pool", "job": job, "i": 0, "ev": ev, "time": 1.0, "func": "f", **fields}

    for job in range(5000):
        table.record(1, event("queued", job))
    start = time.process_time()
    for job in range(5000, 25_000):
        table.record(1, event("queued", job))
        table.record(1, event("callback", job - 5000, thread="Thread-3"))
    for job in range(20_000, 25_000):
        table.record(2, event("start", job))
        table.record(2, event("end", job, ok=True))
        table.record(1, event("callback", job, thread="Thread-3"))
    spent = time.process_time() - start
    tasks = table.all()
    assert len(tasks) == 5000 and {t["job"] for t in tasks} == set(range(20_000, 25_000))
    assert all(t["state"] == "done" and t["callback"]["thread"] == "Thread-3" for t in tasks)
    assert spent < 3.0, f"{spent:.1f} s of CPU for 55,000 events"
    # a map_async's callback is marked on its job's last chunk, and a full table drops finished tasks first
    table.clear()
    for i in range(3):
        table.record(1, {**event("queued", 7), "i": i})
    table.record(1, event("callback", 7, thread="T"))
    assert [t["callback"] is not None for t in table.all()] == [False, False, True]


# -- what one agent connection may cost the dashboard (Security 5 and 9) -------------------------
# The dashboard's real listener, in this process, on a real Unix socket; the test is its agent.
@pytest.fixture
def listener(caplog):
    caplog.set_level(logging.WARNING, logger="webapp.agents.listener")
    directory = tempfile.mkdtemp(prefix="mpscope-test-")
    got: list[dict] = []

    def on_message(pid: int, message: dict) -> None:
        if message["t"] == "boom":
            raise KeyError("a handler that cannot use this message")
        got.append(message)

    def attach_output(pid: int, fds: dict[str, int]) -> None:
        for fd in fds.values():
            os.close(fd)

    agents = AgentListener(
        os.path.join(directory, "agent.sock"),
        KEY,
        on_message,
        lambda pid: None,
        attach_output,
        echo=False,
        max_line=48 << 20,
        hello_within=1.0,
    )
    agents.got = got
    yield agents
    agents.close()
    shutil.rmtree(directory, ignore_errors=True)


KEY = "k" * 32


def agent_socket(agents: AgentListener, hello: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(agents.server.getsockname())
    if hello:
        sock.sendall(protocol.line({"t": "hello", "key": KEY, "v": protocol.VERSION, "streams": []}))
    return sock


def closed_by_the_dashboard(sock: socket.socket, timeout: float = 15.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webapp.agents.listener"]


def test_lines_that_are_not_messages_are_skipped_alone_with_one_short_log_line(listener, caplog):
    sock = agent_socket(listener)
    bad = [b"[1]", b'"text"', b"null", b"[" * 100_000 + b"]" * 100_000, b'{"t": []}', b'{"t": 5}', b"\xff"]
    sock.sendall(b"\n".join([*bad, b'{"t": "boom"}', b'{"t": "after"}']) + b"\n")
    wait_for(lambda: [m["t"] for m in listener.got] == ["hello", "after"], 10, "the line after the bad ones")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, "a traceback was logged"
    assert 1 <= len(warnings(caplog)) <= 2 and all(len(w) < 300 for w in warnings(caplog))
    sock.close()


def test_a_connection_that_never_says_hello_is_dropped(listener, caplog):
    sock = agent_socket(listener, hello=False)
    assert closed_by_the_dashboard(sock)
    assert warnings(caplog) == [f"refused an agent connection from PID {os.getpid()}: no hello within 1 s"]
    assert not listener.ungreeted
    sock.close()


def test_descriptors_sent_before_hello_are_not_hoarded(listener, caplog):
    before = len(os.listdir("/proc/self/fd"))
    sock = agent_socket(listener, hello=False)
    read_end, write_end = os.pipe()
    try:
        for _ in range(2000):
            try:
                socket.send_fds(sock, [b"x"], [read_end])
            except OSError:  # the dashboard dropped us
                break
        assert closed_by_the_dashboard(sock)
        assert len(os.listdir("/proc/self/fd")) < before + 16
        assert len(warnings(caplog)) == 1 and "descriptors before its hello" in warnings(caplog)[0]
    finally:
        sock.close()
        os.close(read_end)
        os.close(write_end)


def test_a_big_line_costs_linear_time_and_one_over_the_cap_drops_the_connection(listener, caplog):
    sock = agent_socket(listener)
    value = "x" * (40 << 20)  # one 40 MiB value: 9 s of CPU when each 64 KiB read re-split the whole line
    start = time.process_time()
    sock.sendall(protocol.line({"t": "big", "value": value}))
    wait_for(lambda: len(listener.got) == 2, 30, "the big line")
    spent = time.process_time() - start
    assert listener.got[1]["value"] == value
    assert spent < 3.0, f"{spent:.1f} s of CPU for 40 MiB"
    del value, listener.got[1]
    try:
        sock.sendall(b"y" * (50 << 20))  # no newline: over the cap
    except (BrokenPipeError, ConnectionResetError):
        pass  # dropped before all was sent
    else:
        assert closed_by_the_dashboard(sock)
    assert warnings(caplog) == [f"dropped the agent connection of PID {os.getpid()}: a line over 48 MiB"]
    sock.close()


def test_a_huge_pool_task_name_is_kept_short():
    table = PoolTaskTable(lambda tasks: None)
    event = {"owner": 1, "kind": "pool", "job": 1, "i": 0, "ev": "queued", "time": 1.0}
    table.record(1, {**event, "func": "f" * 10_000_000, "pool": "p" * 10_000_000, "n": "many"})
    table.record(1, {**event, "ev": "callback", "thread": "t" * 10_000_000})
    [task] = table.all()
    assert len(task["func"]) == len(task["pool"]) == len(task["callback"]["thread"]) == 200
