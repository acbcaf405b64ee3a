"""The Supervisor owns every worker process: spawn, kill, reap, and watch CPU and memory.

Only processes in the Supervisor's own table are ever signalled, and only while they
are alive: a PID that is not ours, or one of ours that already ended (its number may
have been reused), is refused with :class:`NotFound`. One monitor thread waits on all
workers' sentinels and control connections, so a worker's end or message is seen at
once; it also samples CPU and RSS about once a second while workers run.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext

from workers.bootstrap import run_worker
from workers.registry import get_task

from .output import OutputCapture
from .worker import ENDED, LIVE, Worker

logger = logging.getLogger(__name__)

SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT}
SAMPLE_EVERY = 1.0


class NotFound(LookupError):
    """No running worker of ours has that PID."""


class Conflict(RuntimeError):
    """The request would exceed ``--max-workers``."""


class Supervisor:
    """Starts, signals and reaps worker processes; reports changes through ``notify``."""

    def __init__(
        self,
        ctx: BaseContext,
        shared: Callable[[dict], tuple],
        notify: Callable[[list[dict], list[int]], None],
        output: OutputCapture,
        max_workers: int = 32,
        ended_cap: int = 1000,
    ) -> None:
        self.ctx = ctx
        self.shared = shared
        self.notify = notify
        self.output = output
        self.max_workers = max_workers
        self.ended_cap = ended_cap
        self.workers: dict[int, Worker] = {}
        self.ended: collections.deque[int] = collections.deque()
        self.lock = threading.RLock()
        self.closing = False
        self.stack_requests: dict[int, tuple[threading.Event, list]] = {}
        self.request_ids = itertools.count(1)
        self.wake_r, self.wake_w = ctx.Pipe(duplex=False)
        self.monitor = threading.Thread(target=self._monitor, name="mpscope-monitor", daemon=True)
        self.monitor.start()

    # -- commands --------------------------------------------------------------
    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        """Start ``count`` workers running ``task``; raise Conflict past the cap."""
        spec = get_task(task)
        with self.lock:
            if self.closing:
                raise Conflict("the server is shutting down")
            live = sum(1 for w in self.workers.values() if w.state in LIVE)
            if live + count > self.max_workers:
                raise Conflict(
                    f"{live} workers running, {count} more would exceed --max-workers {self.max_workers}"
                )
            started = [self._spawn(spec.name, params, spec.shared(params)) for _ in range(count)]
        self._wake()
        logger.info("spawned %d %s worker(s): %s", count, task, ", ".join(str(w.pid) for w in started))
        infos = [w.info() for w in started]
        self.notify(infos, [])
        return infos

    def _spawn(self, task: str, params: dict, uses: dict, restarted_from: int | None = None) -> Worker:
        control, child_control = self.ctx.Pipe(duplex=True)
        out_r, out_w = self.ctx.Pipe(duplex=False)
        err_r, err_w = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(
            target=run_worker,
            args=(task, params, self.shared(uses), child_control, out_w, err_w),
            name=f"mpscope-{task}",
            daemon=True,
        )
        process.start()
        for conn in (child_control, out_w, err_w):
            conn.close()
        worker = Worker(process, task, params, control, restarted_from)
        self.output.attach(worker.pid, {"stdout": _take_fd(out_r), "stderr": _take_fd(err_r)})
        self.workers[worker.pid] = worker
        return worker

    def kill_worker(self, pid: int, sig: str = "TERM") -> dict:
        """Send ``SIG<sig>`` to a live worker of ours; raise NotFound for anything else."""
        signum = SIGNALS[sig]
        with self.lock:
            worker = self.workers.get(pid)
            if worker is None or not worker.signal_if_alive(signum):
                raise NotFound(f"no running worker with PID {pid}")
        logger.info("sent SIG%s to worker %d", sig, pid)
        return worker.info()

    def kill_all(self, sig: str = "TERM") -> list[int]:
        """Signal every live worker; return the PIDs signalled."""
        with self.lock:
            pids = [pid for pid, w in self.workers.items() if w.signal_if_alive(SIGNALS[sig])]
        if pids:
            logger.info("sent SIG%s to %d worker(s)", sig, len(pids))
        return pids

    def clear_ended(self) -> list[int]:
        """Forget ended workers; return their PIDs."""
        with self.lock:
            pids = [pid for pid, w in self.workers.items() if w.state in ENDED]
            for pid in pids:
                self._forget(pid)
            self.ended.clear()
        if pids:
            self.notify([], pids)
        return pids

    def restart_live(self) -> list[dict]:
        """Replace the workers the dead Manager took down with it by fresh ones (same task).

        That is every live worker, and every one that already ended because its Manager
        connection broke: workers often notice the death, fail and are reaped before the
        change feed does, so "live now" alone would miss them.
        """
        with self.lock:
            old = [w for w in self.workers.values() if not w.replaced and (w.state in LIVE or w.manager_lost)]
            for w in old:
                w.signal_if_alive(signal.SIGKILL)
                w.replaced = True
            new = [
                self._spawn(w.task, w.params, get_task(w.task).shared(w.params), restarted_from=w.pid)
                for w in old
            ]
        self._wake()
        infos = [w.info() for w in new]
        self.notify(infos, [])
        return infos

    def stack(self, pid: int, timeout: float = 2.0) -> list[dict]:
        """Ask a live worker for every thread's stack; raise NotFound or TimeoutError."""
        with self.lock:
            worker = self.workers.get(pid)
            if worker is None or worker.state not in LIVE or not worker.alive():
                raise NotFound(f"no running worker with PID {pid}")
            request_id = next(self.request_ids)
            done, answer = self.stack_requests[request_id] = (threading.Event(), [])
            try:
                worker.control.send(("stack", request_id))
            except OSError:
                del self.stack_requests[request_id]
                raise NotFound(f"no running worker with PID {pid}") from None
        try:
            if not done.wait(timeout):
                raise TimeoutError(f"worker {pid} did not answer within {timeout}s")
            return answer[0]
        finally:
            self.stack_requests.pop(request_id, None)

    def get(self, pid: int) -> Worker | None:
        return self.workers.get(pid)

    def infos(self) -> list[dict]:
        with self.lock:
            return [w.info() for w in self.workers.values()]

    def live_count(self) -> int:
        with self.lock:
            return sum(1 for w in self.workers.values() if w.state in LIVE)

    def close(self, grace: float = 2.0) -> None:
        """Stop accepting work, TERM every worker, KILL stragglers after ``grace``, reap all."""
        with self.lock:
            self.closing = True
            live = [w for w in self.workers.values() if w.state in LIVE]
        for w in live:
            w.signal_if_alive(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for w in live:  # the monitor thread reaps them; only it touches their processes
            w.ended.wait(max(0.0, deadline - time.monotonic()))
        for w in live:
            if not w.ended.is_set():
                w.signal_if_alive(signal.SIGKILL)
                w.ended.wait(1.0)
        self._wake()
        self.monitor.join(2.0)

    # -- monitor thread --------------------------------------------------------
    def _wake(self) -> None:
        self.wake_w.send_bytes(b"")

    def _monitor(self) -> None:
        next_sample = time.monotonic() + SAMPLE_EVERY
        while True:
            with self.lock:
                if self.closing and not any(w.state in LIVE for w in self.workers.values()):
                    return
                live = [w for w in self.workers.values() if w.state in LIVE]
                waitables = {w.process.sentinel: w for w in live}
                waitables.update({w.control: w for w in live if not w.control.closed})
            timeout = max(0.0, next_sample - time.monotonic()) if live else None
            ready = wait([self.wake_r, *waitables], timeout)
            changed: dict[int, Worker] = {}
            for obj in ready:
                if obj is self.wake_r:
                    self.wake_r.recv_bytes()
                    continue
                worker = waitables[obj]
                if obj is worker.control:
                    self._on_message(worker)
                else:
                    self._reap(worker)
                changed[worker.pid] = worker
            if live and time.monotonic() >= next_sample:
                next_sample = time.monotonic() + SAMPLE_EVERY
                changed.update({w.pid: w for w in live if w.sample()})
            if changed:
                self.notify([w.info() for w in changed.values()], self._trim_ended())

    def _on_message(self, worker: Worker) -> None:
        try:
            message = worker.control.recv()
        except (EOFError, OSError):
            worker.control.close()
            return
        kind = message[0]
        if kind == "ready":
            worker.mark_running(message[2])
        elif kind == "error":
            worker.error = message[1]
            worker.manager_lost = message[2]
        elif kind == "stack":
            waiting = self.stack_requests.get(message[1])
            if waiting is not None:
                waiting[1].append(message[2])
                waiting[0].set()

    def _reap(self, worker: Worker) -> None:
        while not worker.control.closed and worker.control.poll():
            self._on_message(worker)  # an error report may still be in flight
        worker.mark_ended()
        worker.control.close()
        with self.lock:
            self.ended.append(worker.pid)
        logger.info("worker %d %s", worker.pid, worker.describe_end())

    def _trim_ended(self) -> list[int]:
        removed = []
        with self.lock:
            while len(self.ended) > self.ended_cap:
                pid = self.ended.popleft()
                if pid in self.workers and self.workers[pid].state in ENDED:
                    self._forget(pid)
                    removed.append(pid)
        return removed

    def _forget(self, pid: int) -> None:
        self.workers.pop(pid, None)
        self.output.forget(pid)


def _take_fd(conn) -> int:
    """Detach a Connection's descriptor so the OutputCapture can own it."""
    fd = os.dup(conn.fileno())
    conn.close()
    return fd
