"""ProgramWatch: everything one ``mpscope run`` owns, wired together.

It runs the program and turns what its agents report (through the dashboard's one
:class:`~webapp.agents.hub.AgentHub`) into pool task updates, pushed to clients as
``program`` when the program starts or ends, and ``pool_tasks`` batched per frame
(``pool_tasks.FRAME``).
Its processes are in the dashboard's process table, and the journals of its Managers in
the dashboard's ManagerJournals, like any others.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

from mpscope_agent import protocol

from ..agents.hub import AgentHub
from ..processes import Conflict, ProcessTable
from ..state import ManagerUnavailable
from .descendants import Descendants
from .launcher import Program, ProgramState
from .pool_tasks import CANCELLED, PoolTaskTable

logger = logging.getLogger(__name__)

NO_MANAGER = "mpscope run has no Manager of its own: the objects are the program's"


class ProgramWatch:
    """The watched program: its main process, every process it starts, and their pool tasks."""

    mode = "program"

    def __init__(
        self,
        argv: list[str],
        hub: AgentHub,
        table: ProcessTable,
        broadcast: Callable[[str, object], None],
        on_end: Callable[[int], None] | None = None,
    ) -> None:
        self.hub = hub
        self.table = table
        self.broadcast = broadcast
        self.end_hook = on_end
        self.tasks = PoolTaskTable(self._push_tasks)
        self.stop_lock = threading.Lock()  # held while a Stop kills the program and what is left of it
        self.interrupted = True  # until stopping() says which signal stopped the server
        hub.on(protocol.TASK, self.tasks.record)
        hub.on(protocol.TASKS, self.tasks.record)
        hub.on(protocol.POOL, self._pool)
        hub.on_gone(self._on_gone)
        self.program = Program(argv, hub.dir.program_env(dict(os.environ)), self._on_start, self._on_end)
        # what runs without (or no longer with) an agent connection, by kernel parentage
        self.descendants = Descendants(table, lambda: self.program.popen.pid if self.program.popen else None)

    # -- what the core asks of a back end --------------------------------------------
    def fields(self) -> dict:
        """The program and its pool tasks, in every snapshot."""
        return {"program": self.info(), "pool_tasks": self.tasks.all()}

    def manager_info(self) -> dict:
        """mpscope's own Manager: none (the shared objects are the program's)."""
        return {"pid": None, "restarts": 0, "state": "none"}

    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        raise Conflict("mpscope is watching a program: it starts no workers of its own")

    def reset(self) -> int:
        raise ManagerUnavailable(NO_MANAGER)

    def manager_contents(self) -> dict:
        raise ManagerUnavailable(NO_MANAGER)

    def processes_ended(self, pids: set[int]) -> None:
        """A pool worker's running task is lost with it (a program's own Managers are as it made
        them: nothing to forget or release)."""
        # Pool.terminate() (the end of every `with Pool()` block) stops its workers with SIGTERM:
        # what they ran then was cancelled, not lost
        terminated = {pid for pid in pids if (p := self.table.get(pid)) is not None and p.signal == "SIGTERM"}
        self.tasks.workers_ended(pids - terminated)  # what changed is pushed with the next frame
        self.tasks.workers_ended(terminated, CANCELLED)

    def pool_tasks(self) -> list[dict]:
        return self.tasks.all()

    def stopping(self, interrupted: bool = False) -> None:
        """The server is stopping: close() stops the program. After a Ctrl-C the program got
        SIGINT as well, and is given a moment to end as it would; after a SIGTERM sent to
        mpscope alone it is sent SIGTERM at once."""
        self.interrupted = interrupted

    # -- commands ------------------------------------------------------------------
    def start(self) -> dict:
        """Run the program (again): the previous run's ended processes and tasks are cleared."""
        # A Stop may still be killing what is left of the last run once its main process
        # ended (Pool workers...): it would kill this run's new processes too. Wait for it,
        # unless the program still runs (then start() refuses at once).
        waited = self.program.state != ProgramState.RUNNING and self.stop_lock.acquire(timeout=10)
        try:
            self.table.clear_ended()
            self.tasks.clear()
            self.program.start()
        finally:
            if waited:
                self.stop_lock.release()
        return self.info()

    def stop(self) -> dict:
        """Ask the program to stop (SIGTERM, then SIGKILL for it and all its processes) in the background."""
        threading.Thread(target=self._stop, name="mpscope-stop", daemon=True).start()
        return self.info()

    def info(self) -> dict:
        return self.program.info()

    def release(self, oid: str, pid: int) -> None:
        """Ask the Manager that holds lock-like ``oid`` to release it for its dead holder ``pid``."""
        manager, _, local = oid.partition(":")
        if not manager.isdigit():  # one of multiprocessing's own locks: no Manager serves it
            raise ManagerUnavailable(
                f"{oid} is a multiprocessing lock of the program: only the program's processes can release it"
            )
        self.hub.send(int(manager), {"t": protocol.RELEASE, "oid": local, "pid": pid})

    def close(self, grace: float = 2.0) -> None:
        """Stop the program and kill what is left of it."""
        waited = grace if self.interrupted else 0.0
        if self.program.state == ProgramState.RUNNING and not self.program.ended.wait(waited):
            self.program.stop(grace, self.table.kill_all_now)
        self.table.kill_all_now()
        self.descendants.stop_rest()
        self.descendants.close()
        self.tasks.push()  # what the last frame changed, before the recording closes

    # -- what happens --------------------------------------------------------------
    def _stop(self) -> None:
        with self.stop_lock:
            self.program.stop(kill_rest=self.table.kill_all_now)
            self.descendants.stop_rest()

    def _on_start(self, pid: int) -> None:
        self.table.seen(pid, "main", "MainProcess")
        self.broadcast("program", self.info())

    def _on_end(self, code: int) -> None:
        if self.program.popen is not None:
            # its last lines first (a child may still hold its stdout: wait a moment only)
            self.hub.listener.terminal.wait_output(self.program.popen.pid, timeout=0.5)
            self.table.exited(self.program.popen.pid, code)
        self.tasks.push()
        info = self.info()
        self.broadcast("program", info)
        how = f"was killed by {info['signal']}" if info["signal"] else f"exited with code {info['exitcode']}"
        print(f"mpscope: the program {how}", file=sys.stderr, flush=True)
        if self.end_hook is not None:
            self.end_hook(self.program.exit_status())

    def _pool(self, pid: int, message: dict) -> None:
        if isinstance(message.get("pids"), list):
            self.tasks.pool_members(
                str(message.get("label")), [p for p in message["pids"] if isinstance(p, int)]
            )

    def _on_gone(self, pid: int) -> None:
        main = self.program.popen.pid if self.program.popen else None
        # the main process's end comes from its exit status; one that closed its connection
        # but runs on stays listed (its end is seen by the kernel's parentage)
        if pid != main and not self.descendants.gone(pid):
            self.table.exited(pid, None)

    def _push_tasks(self, batch: list[dict]) -> None:
        """The tasks changed in the last frame (the task table batches them)."""
        self.broadcast("pool_tasks", {"tasks": batch})
