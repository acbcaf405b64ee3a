"""A program's TCP Manager under ``mpscope run``: who wrote is looked up only for a client that
authenticated, and by address and port.

The lookup of a TCP peer searches ``/proc`` (~10 ms); a client refused by the authkey
challenge must cost the Manager no more than under plain python, and be refused the same
way. A client at another address whose port happens to be a listening socket's (the
dashboard's) is not that socket's process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from run_support import PROGRAM_PYTHON, run_to_end, write

from mpscope_agent import peers

pytestmark = pytest.mark.timeout(120)

SERVER = """
import queue, sys, threading
from multiprocessing.managers import BaseManager

jobs = queue.Queue()


class QueueManager(BaseManager):
    pass


QueueManager.register("get_queue", callable=lambda: jobs)


def lookups():
    peers = sys.modules.get("mpscope_agent.peers")  # loaded by the agent under mpscope run only
    return "-" if peers is None else peers.lookups  # its count of /proc searches in this process


if __name__ == "__main__":
    server = QueueManager(address=("127.0.0.1", 0), authkey=b"right").get_server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = server.address
    for _ in range(5):
        try:
            QueueManager(address=address, authkey=b"wrong").connect()
        except Exception as e:
            print("refused:", type(e).__name__, e)
    print("searches after the refused:", lookups())
    client = QueueManager(address=address, authkey=b"right")
    client.connect()
    client.get_queue().put("hello")
    print("took back:", client.get_queue().get())
    print("searched after the client:", lookups() not in (0, "-"))
"""


def test_a_wrong_authkey_is_refused_as_plain_python_refuses_it_and_costs_no_lookup(tmp_path: Path):
    program = write(tmp_path, SERVER)
    plain = subprocess.run([PROGRAM_PYTHON, str(program)], capture_output=True, text=True, timeout=60)
    watched = run_to_end(str(program))
    assert plain.returncode == 0, plain.stderr
    refused = [line for line in plain.stdout.splitlines() if line.startswith("refused:")]
    assert len(refused) == 5 and all(line.startswith("refused: AuthenticationError") for line in refused)
    assert [line for line in watched.stdout.splitlines() if line.startswith("refused:")] == refused, (
        watched.stderr
    )
    assert "searches after the refused: -" in plain.stdout
    assert "searches after the refused: 0" in watched.stdout, watched.stdout + watched.stderr
    assert "took back: hello" in watched.stdout
    assert "searched after the client: True" in watched.stdout  # the client that authenticated was looked up


@pytest.fixture
def listening_elsewhere():
    """A process with a socket listening on 127.0.0.1:PORT (as the dashboard's); yields (pid, PORT)."""
    code = (
        "import socket, sys\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True); sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield holder.pid, int(holder.stdout.readline())
    finally:
        holder.communicate(timeout=10)  # closes its stdin (it ends) and both pipes


def test_a_peer_at_another_address_with_the_same_port_is_not_the_listeners_process(listening_elsewhere):
    listener_pid, port = listening_elsewhere
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.bind(("127.0.0.2", port))  # the listener's port, at another loopback address
        client.connect(server.getsockname())
        conn, _ = server.accept()
        with conn:
            assert peers.writer_of(conn) == os.getpid()  # a client here is named by its PID
            client.close()  # a peer whose socket no process here holds any more: not the listener's
            assert peers.writer_of(conn) == f"127.0.0.2:{port}"
            assert listener_pid != os.getpid()


def test_the_proc_forms_of_an_address_cover_both_families():
    forms = peers.proc_forms("127.0.0.1", 80)
    assert "0100007F:0050" in forms or "7F000001:0050" in forms  # /proc/net/tcp's, in either byte order
    assert forms == peers.proc_forms("::ffff:127.0.0.1", 80)  # as a dual-stack server sees it
    assert peers.proc_forms("not an address", 80) == set()
