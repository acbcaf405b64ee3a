"""``mpscope run`` believes the kernel, not the program, and bounds what an agent connection may cost.

A process's own messages cannot make mpscope list or signal a process that is not the
program's (issue 21, Security 1); an agent connection that never says hello, hoards
descriptors, sends lines that are not objects or a huge value costs the dashboard a bounded,
linear amount (Security 5 and 9).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from run_support import RunServer, by_name, processes, wait_program, write
from support import Api, wait_for

pytestmark = pytest.mark.timeout(120)

# Names an outside process (argv[1]) and mpscope itself (its parent) as its children, then
# starts a real one: its ``proc`` comes after the two on the same connection.
FAKE_CHILDREN = textwrap.dedent(
    """
    import multiprocessing as mp, os, sys, time
    import mpscope_agent.agent as agent

    def nap():
        while True:
            time.sleep(0.05)

    if __name__ == "__main__":
        for pid in (int(sys.argv[1]), os.getppid()):
            agent.channel.send({"t": "proc", "pid": pid, "ppid": os.getpid(), "name": "fake", "role": "pool"})
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
