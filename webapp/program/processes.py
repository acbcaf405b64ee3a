"""The program's processes, as the dashboard's worker table and commands see them.

:class:`ProcessTable` stands in for the Supervisor in run mode: it lists every Python
process of the program that reported itself, samples their CPU and RSS, signals them
(and nothing else: a PID is only known here once its agent connected from it, and
psutil's creation-time check keeps a reused PID safe) and asks their agents for stacks.
"""

from __future__ import annotations

import collections
import itertools
import logging
import signal
import threading
import time
from collections.abc import Callable

import psutil

from ..supervisor import SIGNALS, Conflict, NotFound
from ..worker import EXITED, KILLED, LIVE, RUNNING, STARTING, Worker

logger = logging.getLogger(__name__)

SAMPLE_EVERY = 1.0
ROLES = ("main", "process", "pool", "manager")


class _Reported:
    """What a Worker needs of its process object, for a process we did not start: its PID."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


class ProgramProcess(Worker):
    """One process of the watched program (not started by us: no Process object to join)."""

    def __init__(self, pid: int, role: str, name: str, started_at: float | None = None) -> None:
        super().__init__(_Reported(pid), task=None, params={}, control=None)
        self.role = role
        self.name = name
        self.told = False  # its parent told us its name and role
        self.killed_by_us = False  # we sent it SIGKILL
        self.state = RUNNING
        self.started_at = started_at or self.started_at

    def alive(self) -> bool:
        if self.state not in LIVE or self.ps is None:
            return False
        try:
            return self.ps.is_running() and self.ps.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def finish(self, code: int | None = None) -> None:
        """It ended: ``code`` is the status its parent reaped (negative: the killing signal), if known."""
        if self.ended_at is None:
            self.ended_at = time.time()
            self.cpu_percent = 0.0
            self.ended.set()
        if code is not None and code < 0:
            self.state, self.signal, self.exitcode = KILLED, signal.Signals(-code).name, None
        elif code is not None:
            self.state, self.exitcode = EXITED, code
        elif self.killed_by_us:
            self.state, self.signal = KILLED, "SIGKILL"  # nobody reaped it, but SIGKILL cannot be survived
        elif self.state in LIVE:
            self.state = EXITED

    def signal_if_alive(self, signum: int) -> bool:
        before = self.killed_by_us
        self.killed_by_us = before or signum == signal.SIGKILL  # before its end can be seen
        sent = super().signal_if_alive(signum)
        self.killed_by_us = before or (sent and signum == signal.SIGKILL)
        return sent

    def info(self) -> dict:
        return {**super().info(), "name": self.name, "role": self.role}


class ProcessTable:
    """The Supervisor's interface over the program's processes."""

    def __init__(
        self,
        notify: Callable[[list[dict], list[int]], None],
        ask_stack: Callable[[int, int], bool],
        forget_output: Callable[[int], None],
        ended_cap: int = 1000,
    ) -> None:
        self.notify = notify
        self.ended_cap = ended_cap
        self.ended: collections.deque[int] = collections.deque()  # ended PIDs, oldest first
        self.ask_stack = ask_stack
        self.forget_output = forget_output
        self.workers: dict[int, ProgramProcess] = {}
        self.pending_exit: dict[int, int] = {}  # exit codes reported before the process was seen
        self.lock = threading.RLock()
        self.stack_requests: dict[int, tuple[threading.Event, list]] = {}
        self.request_ids = itertools.count(1)
        self.closing = threading.Event()
        self.sampler = threading.Thread(target=self._sample, name="mpscope-sampler", daemon=True)
        self.sampler.start()

    # -- what the agents report ----------------------------------------------------
    def seen(
        self,
        pid: int,
        role: str | None = None,
        name: str | None = None,
        at: float | None = None,
        told: bool = False,
    ) -> None:
        """A process said hello (``told=False``), or its parent told us its name and role (``told=True``).

        The parent knows better: a child says hello before multiprocessing has given it
        its name, so what the parent told wins, whichever arrives first.
        """
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None:
                proc = self.workers[pid] = ProgramProcess(pid, role or "process", name or "?", at)
                proc.told = told
                if told:  # its parent started it; it has not connected yet
                    proc.state = STARTING
                if pid in self.pending_exit:
                    proc.finish(self.pending_exit.pop(pid))
            elif told and proc.role != "main":
                proc.role = role if role in ROLES else proc.role
                proc.name = name or proc.name
                proc.told = True
            elif not proc.told and proc.role != "main":
                proc.name = name or proc.name
            if not told:
                proc.mark_running(proc.ppid)
        self.notify([proc.info()], [])

    def exited(self, pid: int, code: int | None) -> None:
        """Process ``pid`` ended: its parent reaped ``code``, or (None) its connection closed."""
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None:
                if code is not None:
                    self.pending_exit[pid] = code
                return
            if proc.ended_at is None:
                self.ended.append(pid)
            proc.finish(code)
            removed = self._trim_ended()
        self.notify([proc.info()], removed)

    def _trim_ended(self) -> list[int]:
        """Forget the oldest ended processes beyond ``ended_cap`` (a program may fork thousands)."""
        removed = []
        while len(self.ended) > self.ended_cap:
            pid = self.ended.popleft()
            proc = self.workers.get(pid)
            if proc is not None and proc.ended_at is not None:
                del self.workers[pid]
                self.forget_output(pid)
                removed.append(pid)
        return removed

    def stack_answer(self, request_id: int, threads: list) -> None:
        waiting = self.stack_requests.get(request_id)
        if waiting is not None:
            waiting[1].append(threads)
            waiting[0].set()

    # -- the Supervisor's interface -------------------------------------------------
    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        raise Conflict("mpscope is watching a program: it starts no workers of its own")

    def kill_worker(self, pid: int, sig: str = "TERM") -> dict:
        with self.lock:
            proc = self.workers.get(pid)
        if proc is None or not proc.signal_if_alive(SIGNALS[sig]):
            raise NotFound(f"no running process of the program with PID {pid}")
        logger.info("sent SIG%s to process %d of the program", sig, pid)
        return proc.info()

    def kill_all(self, sig: str = "TERM") -> list[int]:
        with self.lock:
            procs = list(self.workers.values())
        return [p.pid for p in procs if p.signal_if_alive(SIGNALS[sig])]

    def clear_ended(self) -> list[int]:
        with self.lock:
            pids = [pid for pid, p in self.workers.items() if p.ended_at is not None]
            for pid in pids:
                del self.workers[pid]
                self.forget_output(pid)
            self.ended.clear()
        if pids:
            self.notify([], pids)
        return pids

    def restart_live(self) -> list[dict]:
        return []  # the program's processes do not use mpscope's own Manager

    def stack(self, pid: int, timeout: float = 2.0) -> list[dict]:
        proc = self.get(pid)
        if proc is None or not proc.alive():
            raise NotFound(f"no running process of the program with PID {pid}")
        request_id = next(self.request_ids)
        done, answer = self.stack_requests[request_id] = (threading.Event(), [])
        try:
            if not self.ask_stack(pid, request_id):
                raise TimeoutError(f"process {pid} is still starting: mpscope cannot reach it yet")
            if not done.wait(timeout):
                raise TimeoutError(f"process {pid} did not answer within {timeout}s")
            return answer[0]
        finally:
            self.stack_requests.pop(request_id, None)

    def get(self, pid: int) -> ProgramProcess | None:
        with self.lock:
            return self.workers.get(pid)

    def infos(self) -> list[dict]:
        with self.lock:
            return [p.info() for p in self.workers.values()]

    def live(self) -> list[ProgramProcess]:
        with self.lock:
            return [p for p in self.workers.values() if p.ended_at is None]

    def live_count(self) -> int:
        return len(self.live())

    def kill_all_now(self) -> None:
        """SIGKILL every process of the program that still runs."""
        for proc in self.live():
            proc.signal_if_alive(signal.SIGKILL)

    def close(self, grace: float = 2.0) -> None:
        """KILL whatever of the program is still running (the program was already asked to stop)."""
        self.closing.set()
        self.kill_all_now()
        if self.sampler.is_alive():
            self.sampler.join(2)

    def _sample(self) -> None:
        while not self.closing.wait(SAMPLE_EVERY):
            changed = [p.info() for p in self.live() if p.sample()]
            if changed:
                self.notify(changed, [])
