"""The first code a worker process runs: wire up output, control and parent watch, run the task.

A worker talks to the server over one duplex control connection: it reports
``("ready", pid, ppid)``, answers ``"stack"`` requests with every thread's current stack
(taken from inside the process, so no ptrace rights are needed), and reports an
exception's traceback before exiting. If the connection reaches EOF the server is gone,
and the worker exits rather than live on as an orphan.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from mpscope_agent.stacks import current_stacks

from .registry import get_task

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to signal this process when its parent exits (no orphans survive us)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the control connection still watches
        pass


def _serve_control(control) -> None:
    me = threading.get_ident()
    while True:
        try:
            request = control.recv()
        except (EOFError, OSError):
            os._exit(1)  # the server is gone: do not outlive it
        if isinstance(request, tuple) and request[0] == "stack":
            control.send(("stack", request[1], current_stacks(skip=me)))


FLUSH_EVERY = 0.05


def _redirect(conn, fd: int, stream: Any, line_buffering: bool) -> Any:
    os.dup2(conn.fileno(), fd)
    conn.close()
    if stream is None:
        return open(fd, "w", buffering=1 if line_buffering else -1, closefd=False)
    stream.reconfigure(line_buffering=line_buffering)
    return stream


def _flush_stdout() -> None:
    # stdout stays block-buffered, so a worker printing flat out costs about what
    # writing to a file costs (line buffering made it ~4x slower); this thread still
    # gets each line to the page within FLUSH_EVERY seconds.
    while True:
        time.sleep(FLUSH_EVERY)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            return


def run_worker(task_name: str, params: dict, shared: tuple, control, out, err) -> None:
    """Run one task in this process; the Process target the supervisor starts."""
    die_with_parent()
    os.setpgrp()  # a Ctrl-C at the server's terminal is the server's to handle, not ours
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # INT ends us by signal, shown as SIGINT
    sys.stdout = _redirect(out, 1, sys.stdout, line_buffering=False)
    sys.stderr = _redirect(err, 2, sys.stderr, line_buffering=True)
    control.send(("ready", os.getpid(), os.getppid()))
    threading.Thread(target=_serve_control, args=(control,), name="mpscope-control", daemon=True).start()
    threading.Thread(target=_flush_stdout, name="mpscope-flush", daemon=True).start()
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
        control.send(("error", text, isinstance(exc, (EOFError, ConnectionError))))
        sys.exit(1)
    finally:
        sys.stdout.flush()
