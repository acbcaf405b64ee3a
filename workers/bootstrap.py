"""The first code a worker process runs: connect to the dashboard, run the task.

A worker reports over the same agent channel as a watched program's processes
(:mod:`mpscope_agent.protocol`): its ``hello`` hands over its stdout and stderr pipes,
its channel answers stack requests (taken from inside the process, so no ptrace rights
are needed), and a failed task sends its traceback before the worker exits. If the
channel closes, the server is gone, and the worker exits rather than live on as an orphan.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import traceback

from mpscope_agent import protocol, stdio, waits
from mpscope_agent.channel import Channel

from .registry import get_task

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to signal this process when its parent exits (no orphans survive us)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the channel still watches
        pass


def _streams() -> None:
    """Python-level stdout/stderr over the pipes the channel put on fds 1 and 2."""
    for name, fd, line_buffering in (("stdout", 1, False), ("stderr", 2, True)):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(fd, "w", buffering=1 if line_buffering else -1, closefd=False))  # noqa: SIM115 -- it is sys.stdout from now on
        else:
            stream.reconfigure(line_buffering=line_buffering)


def run_worker(task_name: str, params: dict, shared: tuple, directory: str, key: str) -> None:
    """Run one task in this process; the Process target the supervisor starts."""
    die_with_parent()
    os.setpgrp()  # a Ctrl-C at the server's terminal is the server's to handle, not ours
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # INT ends us by signal, shown as SIGINT
    sys.stdout.flush()
    channel = Channel(directory, key, on_lost=lambda: os._exit(1))  # the server is gone: so are we
    channel.connect("worker", {})
    if channel.sock is None:
        os._exit(1)  # the server went away while we started
    os.register_at_fork(after_in_child=channel.after_fork_in_child)
    waits.start(channel, hidden=(__file__,))  # the task is the program, this bootstrap is ours
    _streams()
    # stdout stays block-buffered, so a worker printing flat out costs about what writing
    # to a file costs (line buffering made it ~4x slower); the agent's flusher (safe across
    # fork and exit) still gets each line to the page within 50 ms
    stdio.flush_periodically(sys.stdout)
    d, l, objects = shared  # noqa: E741 -- the tutorial's names
    task = get_task(task_name)
    try:
        task.func(d, l, **{**params, **objects})
    except Exception as exc:
        text = traceback.format_exc()
        sys.stderr.write(text)
        sys.stderr.flush()
        # The Manager's proxies raise EOFError or ConnectionError when the Manager died:
        # saying so lets the server restart this worker on the new Manager.
        lost = isinstance(exc, (EOFError, ConnectionError))
        channel.send({"t": protocol.ERROR, "traceback": text, "manager_lost": lost})
        sys.exit(1)
    finally:
        sys.stdout.flush()
