"""Supervision: every process, Pool and Manager one lab run started, and how to end them.

A run's processes are forkserver children (or, for one lab, spawn children), never forks
of the threaded server. :meth:`Supervision.stop` marks the run as stopping (time limit
or user); :meth:`kill_all` then kills what is alive, and :meth:`reap_all` joins
everything once the lesson's ``main`` has returned, killing stragglers after a grace.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from multiprocessing.connection import wait

from .run import LabRun

logger = logging.getLogger(__name__)


def _ended(process) -> bool:
    # only look at the sentinel: reading the exit status is left to the thread that joins
    return process.pid is not None and bool(wait([process.sentinel], 0))


class Supervision:
    """The processes, pools and managers of one run."""

    def __init__(self, run: LabRun) -> None:
        self.run = run
        self.lock = threading.Lock()
        self.processes: list = []
        self.pools: list = []
        self.managers: list = []
        self.stopping = False
        self.status: str | None = None
        self.reason = ""
        self.stopped_at = 0.0

    def add_process(self, process) -> None:
        with self.lock:
            self.processes.append(process)

    def add_pool(self, pool) -> None:
        with self.lock:
            self.pools.append(pool)

    def add_manager(self, manager) -> None:
        process = manager._process  # the Manager's server process, to draw and to reap
        self.run.add_event(
            {
                "pid": process.pid,
                "tid": 0,
                "t": time.time(),
                "kind": "start",
                "state": "blocked",
                "label": "Manager: waits for requests on d, l",
            }
        )
        with self.lock:
            self.managers.append(manager)
            self.processes.append(process)

    def stop(self, status: str, reason: str) -> bool:
        """Mark the run as stopping; return False if it already was."""
        with self.lock:
            if self.stopping:
                return False
            self.stopping, self.status, self.reason = True, status, reason
            self.stopped_at = time.monotonic()
        return True

    def poll_ended(self) -> None:
        """Close the timeline rows of processes that ended without saying so."""
        with self.lock:
            ended = [p for p in self.processes if p.pid not in self.run.ended_pids and _ended(p)]
        for process in ended:
            self._end_event(process.pid, "ended")

    def _end_event(self, pid: int, label: str) -> None:
        self.run.add_event(
            {"pid": pid, "tid": 0, "t": time.time(), "kind": "end", "process": True, "label": label}
        )

    def kill_all(self) -> None:
        """Kill every live process of the run; fail what its main may be waiting on."""
        with self.lock:
            pools, processes = list(self.pools), list(self.processes)
        for pool in pools:
            _fail_pending(pool, self.reason)
            pool.terminate()
        for process in processes:
            if process.pid is not None and not _ended(process):
                try:
                    process.kill()
                except OSError:
                    pass

    def reap_all(self, grace: float = 2.0) -> None:
        """Join every process of the run; kill those still alive after ``grace``."""
        with self.lock:
            pools, managers, processes = list(self.pools), list(self.managers), list(self.processes)
        for pool in pools:
            _fail_pending(pool, "the run ended")
            pool.terminate()  # a no-op for a pool already closed and joined
            pool.join()
        for manager in managers:
            manager.shutdown()
        deadline = time.monotonic() + grace
        for process in processes:
            if process.pid is None:
                continue  # never started (start() raised)
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:  # main has returned: this thread alone reads it now
                process.kill()
                process.join(1.0)
                logger.warning("lab run %s: killed PID %d after the grace period", self.run.id, process.pid)
        for pid in set(self.run.started_pids) - self.run.ended_pids - {os.getpid()}:
            self._end_event(pid, "ended without reporting it (killed or terminated)")
        self.poll_ended()

    def exit_codes(self) -> list[tuple[int, int]]:
        """``(pid, exit code)`` of every process of the run that was reaped (after :meth:`reap_all`)."""
        with self.lock:
            processes = list(self.processes)
        codes = []
        for process in processes:
            try:
                code = process.exitcode
            except ValueError:  # closed
                continue
            if process.pid is not None and code is not None:
                codes.append((process.pid, code))
        return codes


def _fail_pending(pool, reason: str) -> None:
    # Pool.terminate() leaves apply() and get() waiting forever for results that will never
    # come; resolve them with an error so the lesson's main can return.
    for result in list(getattr(pool, "_cache", {}).values()):
        try:
            result._set(0, (False, RuntimeError(reason)))
        except Exception:
            pass
