"""The Supervisor starts the built-in workers and reaps them; the process table lists them.

A worker is a program mpscope starts: a ``forkserver`` child that connects to the
dashboard through the same agent channel as a watched program's processes (its hello
brings its output pipes, it answers stack requests, it reports a failed task), and is
listed in the same :class:`~webapp.processes.ProcessTable`. What only the starter can
know, it tells the table: each worker's task and parameters when it starts, and the exit
status it reaps — one monitor thread waits on every worker's sentinel, so an end is seen
at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext

from workers.bootstrap import run_worker
from workers.registry import get_task

from .agents.hub import AgentHub
from .process_record import LIVE, Conflict, ProcessRecord
from .processes import ProcessTable
from .state import ManagerUnavailable, TooManyLocks

logger = logging.getLogger(__name__)


def _over_limit(live: int, count: int, limit: int) -> str:
    """Why a spawn was refused, in words for the person who pressed Spawn (not a flag name)."""
    running = f"{live} worker{'' if live == 1 else 's'} {'is' if live == 1 else 'are'} running"
    room = limit - live
    can = f"{room} more can start" if room > 0 else "stop one before starting more"
    return f"{running} and at most {limit} may run at once: {count} more would exceed that limit ({can})"


class Supervisor:
    """Starts worker processes, reaps them, and replaces them when the Manager is restarted."""

    def __init__(
        self,
        ctx: BaseContext,
        shared: Callable[..., tuple],
        table: ProcessTable,
        hub: AgentHub,
        max_workers: int = 32,
    ) -> None:
        self.ctx = ctx
        self.shared = shared
        self.table = table
        self.hub = hub
        self.max_workers = max_workers
        self.processes: dict[int, object] = {}  # PID -> its Process, until reaped
        self.replaced: set[int] = set()  # workers a Manager restart replaced already
        self.lock = threading.RLock()
        self.closing = False
        self.wake_r, self.wake_w = ctx.Pipe(duplex=False)
        self.monitor = threading.Thread(target=self._monitor, name="mpscope-monitor", daemon=True)
        self.monitor.start()

    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        """Start ``count`` workers running ``task``; raise Conflict past the cap."""
        spec = get_task(task)
        with self.lock:
            if self.closing:
                raise Conflict("the server is shutting down")
            live = self._live_count()
            if live + count > self.max_workers:
                raise Conflict(_over_limit(live, count, self.max_workers))
            try:
                started = [self._spawn(spec.name, params) for _ in range(count)]
            except (TooManyLocks, ManagerUnavailable) as exc:  # only the first can fail: same objects
                raise Conflict(str(exc)) from None
        self._wake()
        logger.info("spawned %d %s worker(s): %s", count, task, ", ".join(str(w.pid) for w in started))
        infos = [w.info() for w in started]
        self.table.notify(infos, [])
        return infos

    def _spawn(self, task: str, params: dict, restarted_from: int | None = None) -> ProcessRecord:
        shared = self.shared(get_task(task).shared(params), self._objects_in_use())
        process = self.ctx.Process(
            target=run_worker,
            args=(task, params, shared, self.hub.directory, self.hub.key),
            name=f"mpscope-{task}",
            daemon=True,
        )
        process.start()
        record = ProcessRecord(
            process.pid, "worker", process.name, task=task, params=params, restarted_from=restarted_from
        )
        self.processes[process.pid] = process
        self.hub.expect(process.pid)
        return self.table.started(record)

    def _live_count(self) -> int:
        return sum(1 for pid in self.processes if (w := self.table.get(pid)) is not None and w.state in LIVE)

    def _objects_in_use(self) -> set[str]:
        """Ids of the shared objects that live workers were handed (the caller holds the lock)."""
        return {
            use[1]
            for pid in self.processes
            if (w := self.table.get(pid)) is not None and w.state in LIVE
            for use in get_task(w.task).shared(w.params).values()
            if use is not None
        }

    def restart_live(self) -> list[dict]:
        """Replace the workers the dead Manager took down with it by fresh ones (same task).

        That is every live worker, and every one that already ended because its Manager
        connection broke: workers often notice the death, fail and are reaped before the
        change feed does, so "live now" alone would miss them.
        """
        with self.lock:
            old = [
                w
                for w in self.table.records()
                if w.task is not None and w.pid not in self.replaced and (w.state in LIVE or w.manager_lost)
            ]
            for w in old:
                w.signal_if_alive(signal.SIGKILL)
                self.replaced.add(w.pid)
        # each replaced one is shown ended before its replacement starts (the monitor reaps
        # it, and needs the lock to: so wait outside it; SIGKILL takes milliseconds)
        deadline = time.monotonic() + 2.0
        for w in old:
            w.ended.wait(max(0.0, deadline - time.monotonic()))
        with self.lock:
            new = [self._spawn(w.task, w.params, restarted_from=w.pid) for w in old]
        self._wake()
        infos = [w.info() for w in new]
        self.table.notify(infos, [])
        return infos

    def close(self, grace: float = 2.0) -> None:
        """Stop accepting work, TERM every worker, KILL stragglers after ``grace``, reap all."""
        with self.lock:
            self.closing = True
            live = [w for pid in self.processes if (w := self.table.get(pid)) is not None]
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
        while True:
            with self.lock:
                if self.closing and not self.processes:
                    return
                sentinels = {p.sentinel: pid for pid, p in self.processes.items()}
            for ready in wait([self.wake_r, *sentinels]):
                if ready is self.wake_r:
                    self.wake_r.recv_bytes()
                else:
                    self._reap(sentinels[ready])

    def _reap(self, pid: int) -> None:
        with self.lock:
            process = self.processes.pop(pid)
        # the exit status can be read once only (a second reader of the forkserver's
        # sentinel gets EOF); closed now, an ended Process keeps no descriptors
        process.join()
        code = process.exitcode
        process.close()
        # ended once its last messages (a failed task's traceback) were read
        self.hub.listener.when_gone(pid, lambda: self.table.exited(pid, code))
