"""A Worker wraps one worker process: its state, exit details and latest CPU/RSS sample."""

from __future__ import annotations

import logging
import signal
import threading
import time
from multiprocessing.connection import wait

import psutil

logger = logging.getLogger(__name__)

STARTING, RUNNING, EXITED, KILLED = "starting", "running", "exited", "killed"
LIVE = (STARTING, RUNNING)
ENDED = (EXITED, KILLED)


class Worker:
    """One worker process the Supervisor started."""

    def __init__(self, process, task: str, params: dict, control, restarted_from: int | None = None):
        self.process = process
        self.pid: int = process.pid
        self.task = task
        self.params = params
        self.control = control
        self.restarted_from = restarted_from
        self.state = STARTING
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.exitcode: int | None = None
        self.signal: str | None = None
        self.error: str | None = None
        self.manager_lost = False  # it failed because its Manager connection broke
        self.replaced = False  # a Manager restart started a new worker in its place
        self.cpu_percent = 0.0
        self.rss: int | None = None
        # Guards the process object: its exit status may be read once only (a second
        # reader of the forkserver's sentinel gets EOF and would record exit code 255),
        # and after mark_ended() it is closed.
        self._lock = threading.Lock()
        self.ended = threading.Event()
        try:
            # psutil remembers the creation time, so a later signal can never reach a
            # different process that was given the same PID after ours ended.
            self.ps: psutil.Process | None = psutil.Process(self.pid)
            self.ppid: int | None = self.ps.ppid()
        except psutil.Error:
            self.ps, self.ppid = None, None

    def alive(self) -> bool:
        """True while the process has not ended (its sentinel is not ready)."""
        with self._lock:
            return self.state in LIVE and not wait([self.process.sentinel], 0)

    def signal_if_alive(self, signum: int) -> bool:
        """Send ``signum`` only if this very process still runs; return whether it was sent."""
        if self.state not in LIVE or self.ps is None or not self.alive():
            return False
        try:
            self.ps.send_signal(signum)
        except psutil.Error:
            return False
        return True

    def mark_running(self, ppid: int) -> None:
        if self.state == STARTING:
            self.state = RUNNING
            self.ppid = ppid

    def mark_ended(self) -> None:
        """Reap the process, record how it ended and release it (the monitor thread calls this)."""
        with self._lock:
            self.process.join()
            code = self.process.exitcode
            # Close it now rather than when the table forgets this worker: an unclosed
            # Process keeps two descriptors (the forkserver's sentinel and pipe), and up to
            # --ended-cap ended workers are kept.
            self.process.close()
            self.ended_at = time.time()
            self.cpu_percent = 0.0
            if code is not None and code < 0:
                self.state = KILLED
                self.signal = signal.Signals(-code).name
            else:
                self.state = EXITED
                self.exitcode = code
        self.ended.set()

    def sample(self) -> bool:
        """Refresh CPU % and RSS; return True if either changed noticeably."""
        if self.ps is None:
            return False
        try:
            with self.ps.oneshot():
                cpu = round(self.ps.cpu_percent(None), 1)
                rss = self.ps.memory_info().rss
        except psutil.Error:
            return False
        changed = abs(cpu - self.cpu_percent) >= 0.5 or rss != self.rss
        self.cpu_percent, self.rss = cpu, rss
        return changed

    def describe_end(self) -> str:
        return f"killed by {self.signal}" if self.state == KILLED else f"exited with code {self.exitcode}"

    def info(self) -> dict:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "task": self.task,
            "params": self.params,
            "state": self.state,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "exitcode": self.exitcode,
            "signal": self.signal,
            "cpu_percent": self.cpu_percent,
            "rss": self.rss,
            "error": self.error,
            "restarted_from": self.restarted_from,
        }
