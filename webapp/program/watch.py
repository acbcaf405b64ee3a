"""ProgramWatch: everything one ``mpscope run`` owns, wired together.

It starts the agents' listener, runs the program, turns agent messages into process
table and pool task updates, and pushes them to clients: ``workers`` (through the
table's notify), ``program`` when the program starts or ends, and ``pool_tasks``
batched per ``FRAME``. The journals of the program's Managers go to ProgramObjects.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

from ..output import OutputCapture
from .launcher import Program, ProgramState
from .listener import AgentListener
from .objects import ProgramObjects
from .pool_tasks import PoolTaskTable
from .private_dir import PrivateDir
from .processes import ProcessTable

logger = logging.getLogger(__name__)

FRAME = 0.1


class ProgramWatch:
    """The watched program: its main process, every process it starts, and their pool tasks."""

    def __init__(
        self,
        argv: list[str],
        output: OutputCapture,
        notify_workers: Callable[[list[dict], list[int]], None],
        broadcast: Callable[[str, object], None],
        on_end: Callable[[int], None] | None = None,
        ended_cap: int = 1000,
        objects: ProgramObjects | None = None,
    ) -> None:
        self.output = output
        self.objects = objects
        self.broadcast = broadcast
        self.end_hook = on_end
        self.dir = PrivateDir()
        self.table = ProcessTable(notify_workers, self._ask_stack, output.forget, ended_cap)
        self.tasks = PoolTaskTable(self._task_changed)
        self.pending_tasks: dict[str, dict] = {}
        self.pending_lock = threading.Lock()
        self.flusher: threading.Timer | None = None
        self.stopping = threading.Lock()  # held while a Stop kills the program and what is left of it
        self.listener = AgentListener(
            self.dir.socket_path, self.dir.key, self._on_message, self._on_gone, output.attach
        )
        self.program = Program(argv, self.dir.program_env(dict(os.environ)), self._on_start, self._on_end)
        if objects is not None:
            objects.tell = self.listener.send

    # -- commands ------------------------------------------------------------------
    def start(self) -> dict:
        """Run the program (again): the previous run's ended processes and tasks are cleared."""
        # A Stop may still be killing what is left of the last run once its main process
        # ended (Pool workers...): it would kill this run's new processes too. Wait for it,
        # unless the program still runs (then start() refuses at once).
        waited = self.program.state != ProgramState.RUNNING and self.stopping.acquire(timeout=10)
        try:
            self.table.clear_ended()
            self.tasks.clear()
            self.program.start()
        finally:
            if waited:
                self.stopping.release()
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
        self.listener.send(int(manager), {"t": "release", "oid": local, "pid": pid})

    def close(self, grace: float = 2.0) -> None:
        """Stop the program, kill what is left of it, and remove the private directory."""
        # after a Ctrl-C the program got SIGINT as well: give it a moment to end as it would
        if self.program.state == ProgramState.RUNNING and not self.program.ended.wait(grace):
            self.program.stop(grace, self.table.kill_all_now)
        self.table.close()
        self.listener.close()
        if self.objects is not None:
            self.objects.close()
        self.dir.remove()

    # -- what happens --------------------------------------------------------------
    def _stop(self) -> None:
        with self.stopping:
            self.program.stop(kill_rest=self.table.kill_all_now)

    def _on_start(self, pid: int) -> None:
        self.table.seen(pid, "main", "MainProcess")
        self.broadcast("program", self.info())

    def _on_end(self, code: int) -> None:
        if self.program.popen is not None:
            # its last lines first (a child may still hold its stdout: wait a moment only)
            self.listener.wait_output(self.program.popen.pid, timeout=0.5)
            self.table.exited(self.program.popen.pid, code)
        info = self.info()
        self.broadcast("program", info)
        how = f"was killed by {info['signal']}" if info["signal"] else f"exited with code {info['exitcode']}"
        print(f"mpscope: the program {how}", file=sys.stderr, flush=True)
        if self.end_hook is not None:
            self.end_hook(self.program.exit_status())

    def _on_message(self, pid: int, message: dict) -> None:
        kind = message.get("t")
        if kind == "hello":
            self.table.seen(pid, message.get("role"), message.get("name"), message.get("time"))
        elif kind == "proc" and isinstance(message.get("pid"), int):
            self.table.seen(message["pid"], message.get("role"), message.get("name"), told=True)
        elif kind == "exit" and isinstance(message.get("pid"), int) and isinstance(message.get("code"), int):
            self.table.exited(message["pid"], message["code"])
        elif kind == "stack" and isinstance(message.get("id"), int):
            self.table.stack_answer(message["id"], message.get("threads") or [])
        elif kind == "task":
            self.tasks.record(pid, message)
        elif (
            (kind == "journal" and isinstance(message.get("entries"), str))
            or (kind == "journal_snapshot" and isinstance(message.get("objects"), str))
        ) and self.objects is not None:
            self.objects.receive(pid, message)
        elif kind == "pool" and isinstance(message.get("pids"), list):
            self.tasks.pool_members(
                str(message.get("label")), [p for p in message["pids"] if isinstance(p, int)]
            )

    def _on_gone(self, pid: int) -> None:
        main = self.program.popen.pid if self.program.popen else None
        if pid != main:  # the main process's end comes from its exit status
            self.table.exited(pid, None)

    def _ask_stack(self, pid: int, request_id: int) -> bool:
        return self.listener.send(pid, {"t": "stack", "id": request_id})

    def _task_changed(self, tasks: list[dict]) -> None:
        with self.pending_lock:
            for task in tasks:
                self.pending_tasks[task["id"]] = task
            if self.flusher is None:
                self.flusher = threading.Timer(FRAME, self._flush_tasks)
                self.flusher.daemon = True
                self.flusher.start()

    def _flush_tasks(self) -> None:
        with self.pending_lock:
            batch, self.pending_tasks, self.flusher = list(self.pending_tasks.values()), {}, None
        if batch:
            self.broadcast("pool_tasks", {"tasks": batch})
