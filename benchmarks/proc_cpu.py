"""One command's CPU, split between its own process and the descendants it reaped.

``mpscope run`` is one process (the dashboard: Flask, the listener, the recorder) whose
child is the program; the program reaps its own processes, and mpscope, a child
subreaper, reaps any orphan of the program's. So the question "does mpscope slow my
program" is answered by the CPU of mpscope's reaped children (the program's process tree,
the agent inside it included), and the dashboard's cost is the mpscope process's own CPU,
a separate figure. Under plain python both are one: the program's own CPU plus its
children's.

The split is read from ``/proc/PID/stat`` once the command has exited but before it is
reaped (``waitid(..., WNOWAIT)``): a zombie keeps its own user/system time and its
reaped children's, to the tick, with nothing sampled or missed at the end.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Measured:
    """What one command's run cost."""

    stdout: str
    wall: float  # seconds, the whole command
    own_cpu: float  # the command's process itself, all its threads (user + system)
    children_cpu: float  # every descendant it reaped (user + system)

    @property
    def tree_cpu(self) -> float:
        return self.own_cpu + self.children_cpu


def measure(command: list[str], cwd: Path, timeout: float = 300) -> Measured:
    """Run ``command`` (stderr discarded); raise if it fails; return its stdout, wall time and CPU."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, text=True)
        try:
            _wait_exited(proc.pid, timeout)
            wall = time.perf_counter() - start
            times = psutil.Process(proc.pid).cpu_times()
        finally:
            if proc.poll() is None:  # reaps it if it exited; else it timed out
                proc.kill()
            proc.wait()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{command} exited with {proc.returncode}: {err.read()[-2000:]}")
        out.seek(0)
        return Measured(
            out.read(), wall, times.user + times.system, times.children_user + times.children_system
        )


def _exited(pid: int) -> bool:
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None


def _wait_exited(pid: int, timeout: float) -> None:
    """Wait until ``pid`` has exited, leaving it a zombie (its times still readable)."""
    deadline = time.monotonic() + timeout
    while True:
        # WNOHANG polling, because waitid has no timeout; 5 ms is far below the runs' length
        if _exited(pid):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"PID {pid} still runs after {timeout} s")
        time.sleep(0.005)
