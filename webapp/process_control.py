"""ProcessControl: what mpscope does to the processes it lists, and the reads of the list.

Signals (Kill, Stop, Ctrl-C, each only to a live process the table holds: psutil's
creation-time check keeps a reused PID safe), stacks asked of a process's agent, and one
thread that samples CPU and RSS. Who is listed, and how each report changes the list, is
the subclass's, :class:`~webapp.processes.ProcessTable`.
"""

from __future__ import annotations

import itertools
import logging
import signal
import threading
import time
from collections.abc import Callable

from .process_record import SIGNALS, STARTING, NotFound, ProcessRecord

logger = logging.getLogger(__name__)

SAMPLE_EVERY = 1.0


class ProcessControl:
    """Every listed process by PID (``workers``); each change goes through ``notify(infos, removed_pids)``."""

    def __init__(
        self,
        notify: Callable[[list[dict], list[int]], None],
        ask_stack: Callable[[int, int], bool],
        noun: str,
    ) -> None:
        self.notify = notify
        self.noun = noun  # how an error names a process: "no running worker with PID 12"
        self.ask_stack = ask_stack
        self.workers: dict[int, ProcessRecord] = {}
        self.lock = threading.RLock()
        self.stack_requests: dict[int, tuple[threading.Event, list]] = {}
        self.request_ids = itertools.count(1)
        self.closing = threading.Event()
        self.sampler = threading.Thread(target=self._sample, name="mpscope-sampler", daemon=True)
        self.sampler.start()

    def kill_worker(self, pid: int, sig: str = "TERM") -> dict:
        """Send ``SIG<sig>`` to a live process of ours; raise NotFound for anything else."""
        proc = self.get(pid)
        if proc is None or not proc.signal_if_alive(SIGNALS[sig]):
            raise NotFound(f"no running {self.noun} with PID {pid}")
        logger.info("sent SIG%s to %s %d", sig, self.noun, pid)
        return proc.info()

    def kill_all(self, sig: str = "TERM") -> list[int]:
        """Signal every live process; return the PIDs signalled."""
        pids = [p.pid for p in self.live() if p.signal_if_alive(SIGNALS[sig])]
        if pids:
            logger.info("sent SIG%s to %d process(es)", sig, len(pids))
        return pids

    def kill_all_now(self) -> None:
        """SIGKILL every process that still runs."""
        for proc in self.live():
            proc.signal_if_alive(signal.SIGKILL)

    def stack(self, pid: int, timeout: float = 2.0) -> list[dict]:
        """Ask a live process's agent for every thread's stack; raise NotFound or TimeoutError."""
        proc = self.get(pid)
        if proc is None or not proc.alive():
            raise NotFound(f"no running {self.noun} with PID {pid}")
        if proc.note is not None:
            # (NotFound: no agent of that PID to ask; the message says it runs)
            raise NotFound(f"process {pid} runs without mpscope's agent: no stack to take ({proc.note})")
        request_id = next(self.request_ids)
        done, answer = self.stack_requests[request_id] = (threading.Event(), [])
        deadline = time.monotonic() + timeout
        try:
            # a process mpscope just started connects a moment later: wait for it, not refuse
            while not self.ask_stack(pid, request_id):
                if proc.state != STARTING or time.monotonic() > deadline or not proc.alive():
                    raise TimeoutError(f"process {pid} is still starting: mpscope cannot reach it yet")
                proc.ended.wait(0.01)
            if not done.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"process {pid} did not answer within {timeout}s")
            return answer[0]
        finally:
            self.stack_requests.pop(request_id, None)

    def stack_answer(self, request_id: int, threads: list) -> None:
        """An agent's answer to stack request ``request_id``: handed to the :meth:`stack` that waits."""
        waiting = self.stack_requests.get(request_id)
        if waiting is not None:
            waiting[1].append(threads)
            waiting[0].set()

    def get(self, pid: int) -> ProcessRecord | None:
        with self.lock:
            return self.workers.get(pid)

    def records(self) -> list[ProcessRecord]:
        with self.lock:
            return list(self.workers.values())

    def infos(self) -> list[dict]:
        with self.lock:
            return [p.info() for p in self.workers.values()]

    def live(self) -> list[ProcessRecord]:
        with self.lock:
            return [p for p in self.workers.values() if p.ended_at is None]

    def live_count(self) -> int:
        return len(self.live())

    def close(self) -> None:
        """Stop sampling (the starters stop and reap their own processes)."""
        self.closing.set()
        if self.sampler.is_alive():
            self.sampler.join(2)

    def _sample(self) -> None:
        while not self.closing.wait(SAMPLE_EVERY):
            changed = [p.info() for p in self.live() if p.sample()]
            if changed:
                self.notify(changed, [])
