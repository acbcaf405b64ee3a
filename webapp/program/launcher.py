"""The watched program's main process: start it as ``python ARGS`` would run, wait, stop it.

The program inherits our cwd, terminal (stdin) and environment, plus the agent's
boot directory on PYTHONPATH. It stays in our process group, so a Ctrl-C at the
terminal reaches it exactly as it would without mpscope.
"""

from __future__ import annotations

import enum
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import psutil

logger = logging.getLogger(__name__)


class ProgramState(enum.StrEnum):
    NOT_STARTED = "not started"
    RUNNING = "running"
    EXITED = "exited"
    KILLED = "killed"


class AlreadyRunning(RuntimeError):
    """Start was asked while the program runs."""


class Program:
    """One command line, run once per :meth:`start`; reports its end through ``on_end``."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        on_start: Callable[[int], None],
        on_end: Callable[[int], None],
    ) -> None:
        self.argv = argv
        self.env = env
        self.on_start = on_start
        self.on_end = on_end
        self.state = ProgramState.NOT_STARTED
        self.popen: subprocess.Popen | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.exitcode: int | None = None
        self.signal: str | None = None
        self.lock = threading.Lock()
        self.ended = threading.Event()

    def start(self) -> int:
        """Start the program; return its PID. Raise AlreadyRunning if it runs, OSError if it cannot start."""
        with self.lock:
            if self.state == ProgramState.RUNNING:
                raise AlreadyRunning(f"the program is running (PID {self.popen.pid})")
            self.popen = subprocess.Popen(self.argv, env=self.env)
            self.state = ProgramState.RUNNING
            self.started_at, self.ended_at = time.time(), None
            self.exitcode, self.signal = None, None
            self.ended.clear()
        self.on_start(self.popen.pid)
        threading.Thread(target=self._wait, args=(self.popen,), name="mpscope-program", daemon=True).start()
        return self.popen.pid

    def stop(self, grace: float = 3.0, kill_rest: Callable[[], None] | None = None) -> None:
        """SIGTERM the main process, SIGKILL it after ``grace`` s, then its descendants and ``kill_rest()``.

        Without the last step a Pool's workers would outlive a main process killed by a
        signal (no atexit handler runs) and wait on their task queue for ever.
        """
        popen = self.popen
        tree = []
        if popen is not None and self.state == ProgramState.RUNNING:
            tree = _descendants(popen.pid)
            _signal(popen, signal.SIGTERM)
            if not self.ended.wait(grace):
                logger.warning("the program ignored SIGTERM for %.0f s: sending SIGKILL", grace)
                _signal(popen, signal.SIGKILL)
                self.ended.wait(2)
        if kill_rest is not None:
            kill_rest()
        if popen is not None:
            # (a reaped main's PID may belong to someone else now: only ask a live one)
            later = _descendants(popen.pid) if popen.poll() is None else []
            for proc in tree + later:  # what is not Python (not in the table) too
                try:
                    proc.kill()  # psutil checks it is still the same process
                except psutil.Error:
                    pass

    def exit_status(self) -> int:
        """The exit status a shell would report: the code, or 128 + the signal number."""
        if self.signal:
            return 128 + signal.Signals[self.signal].value
        return self.exitcode or 0

    def info(self) -> dict:
        return {
            "argv": self.argv[1:],
            "python": self.argv[0],
            "pid": self.popen.pid if self.popen else None,
            "state": self.state.value,
            "exitcode": self.exitcode,
            "signal": self.signal,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "cwd": os.getcwd(),
        }

    def _wait(self, popen: subprocess.Popen) -> None:
        code = popen.wait()
        with self.lock:
            if self.popen is not popen:
                return
            self.ended_at = time.time()
            if code < 0:
                self.state, self.signal = ProgramState.KILLED, signal.Signals(-code).name
            else:
                self.state, self.exitcode = ProgramState.EXITED, code
            self.ended.set()
        self.on_end(code)


def _signal(popen: subprocess.Popen, signum: int) -> None:
    try:
        popen.send_signal(signum)  # Popen does nothing once it has reaped the process
    except ProcessLookupError:
        pass


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
