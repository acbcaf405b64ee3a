"""``mpscope run``: a program's stdout is buffered as under plain python, and still reaches the page live.

Plain python block-buffers stdout unless it is a terminal; under mpscope fd 1 is a pipe to
the dashboard, and the buffering follows mpscope's own stdout (a terminal: line-buffered).
The agent flushes every 50 ms so the page stays live. Each test runs a real program under
plain python (its stdout a pipe, or a pty) and under a real ``mpscope run``, and compares.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from run_support import PROGRAM_PYTHON, RunServer, run_command, write
from support import Api, wait_for

pytestmark = pytest.mark.timeout(90)

KILLED = textwrap.dedent(
    """
    import os, signal, sys
    print("one")
    print("two", flush=True)
    for i in range(int(sys.argv[1])):
        print("line", i)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)

BUFFERING = textwrap.dedent(
    """
    import multiprocessing as mp, sys

    def child(q):
        q.put(sys.stdout.line_buffering)

    if __name__ == "__main__":
        q = mp.get_context("spawn").Queue()
        p = mp.get_context("spawn").Process(target=child, args=(q,))
        p.start()
        print("main", sys.stdout.line_buffering, "spawned child", q.get())
        p.join()
    """
)


def _program_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("mpscope")]


def _python(tmp_path: Path, flags: tuple[str, ...]) -> str:
    """An interpreter path that runs PROGRAM_PYTHON with ``flags`` (mpscope run takes no Python flags)."""
    if not flags:
        return PROGRAM_PYTHON
    wrapper = tmp_path / "python-with-flags"
    wrapper.write_text(f'#!/bin/sh\nexec {PROGRAM_PYTHON} {" ".join(flags)} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.parametrize(
    ("flags", "env", "lines"),
    [((), {}, 3), ((), {}, 20_000), (("-u",), {}, 3), ((), {"PYTHONUNBUFFERED": "1"}, 3)],
    ids=["buffered", "buffered-past-8KiB", "python-u", "PYTHONUNBUFFERED"],
)
def test_a_killed_program_loses_what_plain_python_to_a_pipe_loses(
    tmp_path: Path, flags: tuple[str, ...], env: dict, lines: int
):
    program = str(write(tmp_path, KILLED))
    unbuffered = bool(flags or env)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | env
    python = _python(tmp_path, flags)
    plain = subprocess.run([python, program, str(lines)], capture_output=True, text=True, env=env, timeout=60)
    mpscope = [sys.executable, "-m", "webapp", "run", "--port", "0", "--exit-with-program"]
    command = [*mpscope, "--python", python, program, str(lines)]
    watched = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert plain.returncode == -9
    assert watched.returncode in (-9, 128 + 9, 137), watched.stderr
    got, want = _program_lines(watched.stdout), _program_lines(plain.stdout)
    if lines <= 3:
        # printed and killed within microseconds: nothing was flushed but what plain python flushes
        assert got == want
        assert want == (["one", "two", "line 0", "line 1", "line 2"] if unbuffered else ["one", "two"])
    else:
        # block-buffered: plain python wrote whole 8 KiB buffers; the flusher may have sent more
        # (never less), and what is lost is at most what one buffer holds
        assert got[: len(want) - 1] == want[:-1]
        every = ["one", "two"] + [f"line {i}" for i in range(lines)]
        lost = sum(len(line) + 1 for line in every[len(got) :])
        assert lost <= 8192


def test_a_printed_line_reaches_the_page_within_50_ms_while_the_program_runs(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # block-buffered: the flusher sends the lines
    program = write(
        tmp_path,
        "import time\nfor i in range(5):\n    print('at', time.time())\n    time.sleep(0.3)\n"
        "time.sleep(60)\n",
    )
    srv = RunServer(tmp_path, str(program))
    api = Api(srv)
    try:
        pid = wait_for(lambda: api.state()["program"].get("pid"), 30, "the program's PID")

        def lines() -> list[dict]:
            reply = api.request("GET", f"/api/workers/{pid}/output")  # 404 until its hello
            return reply.json()["lines"] if reply.status_code == 200 else []

        got = wait_for(lambda: len(found := lines()) >= 5 and found, 30, "five lines on the page")
        delays = sorted(line["t"] - float(line["text"].split()[1]) for line in got)
        # the flusher sends within 50 ms; the dashboard stamps the line when it reads it
        # (a loaded machine adds its own delay: the median is held to a looser bound)
        assert delays[2] < 0.25, delays
    finally:
        api.close()
        srv.stop()


@pytest.mark.parametrize("terminal", [False, True], ids=["to-a-file", "to-a-terminal"])
def test_stdout_is_line_buffered_when_mpscope_writes_to_a_terminal(tmp_path: Path, terminal: bool):
    program = str(write(tmp_path, BUFFERING))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    results = []
    for command in ([PROGRAM_PYTHON, program], run_command(program)):
        if terminal:
            results.append(_on_a_pty(command, env))
        else:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
            results.append(done.stdout)
    plain, watched = (_program_lines(text) for text in results)
    assert plain == [f"main {terminal} spawned child {terminal}"]
    assert watched == plain


def _on_a_pty(command: list[str], env: dict) -> str:
    """Run ``command`` with its stdout on a pseudo-terminal; return what it printed there."""
    master, slave = pty.openpty()
    try:
        quiet = subprocess.DEVNULL
        proc = subprocess.Popen(command, stdout=slave, stderr=quiet, stdin=quiet, env=env)
        os.close(slave)
        chunks = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=30)
        return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(master)
