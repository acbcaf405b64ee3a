"""The process table: every process mpscope watches, as the worker table and the commands see them.

One table for both modes: built-in workers (the :class:`~webapp.supervisor.Supervisor`
starts them and tells the table) and a watched program's processes (their agents report
themselves, and :mod:`webapp.program.descendants` lists those the kernel shows below the
program without an agent). Each is a :class:`ProcessRecord`. A PID is known here only
once mpscope started it, its agent connected from it or the kernel's parentage showed it,
so only those are ever signalled, and psutil's creation-time check keeps a reused PID
safe. The signals, stacks, CPU/RSS sampling and reads are its base class's,
:class:`~webapp.process_control.ProcessControl`.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

import psutil

from .process_control import ProcessControl
from .process_record import (
    ROLES,
    STARTING,
    Conflict,
    ProcessRecord,
    is_mpscope_or_above,
)

logger = logging.getLogger(__name__)

__all__ = ["Conflict", "ProcessTable"]  # Conflict: program/watch.py takes it from here


class ProcessTable(ProcessControl):
    """Who is listed: every process mpscope started, whose agent connected or the kernel showed."""

    def __init__(
        self,
        notify: Callable[[list[dict], list[int]], None],
        ask_stack: Callable[[int, int], bool],
        forget_output: Callable[[int], None],
        ended_cap: int = 1000,
        noun: str = "worker",
    ) -> None:
        self.ended_cap = ended_cap
        self.ended: collections.deque[int] = collections.deque()  # ended PIDs, oldest first
        self.forget_output = forget_output
        self.pending_exit: dict[int, int] = {}  # exit codes reported before the process was seen
        # what a parent told of a child that was gone before the kernel could be asked: used
        # once that PID's own connection says hello, or its parent reports reaping it (then
        # it is listed as ended: never signalled)
        self.told_early: dict[int, tuple] = {}
        super().__init__(notify, ask_stack, noun)  # last: it starts the sampler

    # -- what the starters and the agents report -------------------------------------
    def started(self, record: ProcessRecord) -> ProcessRecord:
        """mpscope started this process itself (a built-in worker); return its record in the table.

        Its agent's hello usually comes next, but may have come already: then what the
        starter knows (task, parameters, name) goes into the record the hello made.
        """
        with self.lock:
            known = self.workers.get(record.pid)
            if known is None:
                record.state, record.told = STARTING, True
                self.workers[record.pid] = record
                return record
            known.name, known.task, known.params = record.name, record.task, record.params
            known.role, known.restarted_from, known.told = record.role, record.restarted_from, True
            return known

    def seen(
        self,
        pid: int,
        role: str | None = None,
        name: str | None = None,
        at: float | None = None,
        told: bool = False,
        ppid: int | None = None,
        ps: psutil.Process | None = None,
    ) -> None:
        """A process said hello (``told=False``), or its parent told us its name and role (``told=True``).

        The parent knows better: a child says hello before multiprocessing has given it
        its name, so what the parent told wins, whichever arrives first.
        """
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None:
                early = None if told else self.told_early.pop(pid, None)
                if early is not None:
                    role, name, told_ppid = early
                    ppid = ppid if ppid is not None else told_ppid
                proc = self.workers[pid] = ProcessRecord(pid, role or "process", name or "?", at, ps=ps)
                proc.told = told or early is not None
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
                if role and role != "main":  # a hello after the kernel showed it (program/descendants.py)
                    proc.role = role
            if not told:
                proc.mark_running()
                proc.note = None  # its agent connected (after the kernel showed it to us, maybe)
            proc.parent_told(ppid)
        self.notify([proc.info()], [])

    def child_told(self, sender: int, pid: int, role: str | None, name: str | None, ppid: int | None) -> bool:
        """Process ``sender`` says it started ``pid``: believed only if the kernel agrees.

        ``pid`` must be a live child of ``sender``, or of a live process already in the
        table (a forkserver forks the children of the process that asked it), and never
        mpscope or one of its ancestors. Otherwise a program could name any process of
        its user (or mpscope itself) as its child and have Kill, Stop and Ctrl-C signal
        it. A child already reaped when this is read is not listed unless it connects.
        Return whether ``pid`` is in the table.
        """
        with self.lock:
            known = self.workers.get(pid)
            checked = None
            if known is None or not known.same_process():
                checked = self._kernel_child(sender, pid)
            if checked is None and (known is None or not known.same_process()):
                if not psutil.pid_exists(pid):
                    # ended and reaped already: nothing to signal; its name and role are kept
                    # for when its own connection (or the one it had) is read
                    if known is None:
                        self.told_early[pid] = (role, name, ppid)
                        while len(self.told_early) > 4096:
                            self.told_early.pop(next(iter(self.told_early)))
                        return False
                else:
                    _refused_once(pid, sender)
                    return False
            elif checked is not None and known is not None:  # an ended process's PID, given to this child
                del self.workers[pid]
            self.seen(pid, role, name, told=True, ppid=ppid, ps=checked)
            record = self.workers.get(pid)
            if record is not None and checked is not None and record.ps is checked and not record.ours:
                parent = self.workers.get(record.ppid) if record.ppid is not None else None
                record.ours = parent is not None and parent.ours  # its parent is ours, though orphaned
        return True

    def _kernel_child(self, sender: int, pid: int) -> psutil.Process | None:
        """``pid`` as psutil has it if its parent is ``sender`` or a live process of the table, else None."""
        if pid <= 0 or is_mpscope_or_above(pid):
            return None
        try:
            child = psutil.Process(pid)
            parent = child.ppid()
        except psutil.Error:
            return None
        if parent != sender:
            known = self.workers.get(parent)
            if known is None or not known.alive():
                return None
        return child

    def found(self, ps: psutil.Process, name: str, ppid: int, note: str) -> None:
        """The kernel shows ``ps`` below a process of the program, with no agent connected from it
        (program/descendants.py): listed as running, with ``note``. Its hello, if it comes, wins."""
        with self.lock:
            known = self.workers.get(ps.pid)
            if known is not None and (known.ended_at is None or known.ps == ps):
                return  # listed already (its hello came first), or this very process ended
            if known is not None:  # an ended process's PID, given to this one
                del self.workers[ps.pid]
            proc = self.workers[ps.pid] = ProcessRecord(ps.pid, "process", name, ps=ps)
            proc.note = note
            proc.parent_told(ppid)
        self.notify([proc.info()], [])

    def described(self, pid: int, note: str, command: str | None = None) -> None:
        """Process ``pid`` runs without an agent connection, for the reason ``note``; ``command``,
        its command line, names it unless its parent named it (an exec'd child is no longer Python)."""
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None or proc.ended_at is not None or proc.note == note:
                return
            proc.note = note
            if command and not proc.told and proc.role != "main":
                proc.name = command
        self.notify([proc.info()], [])

    def waiting(self, pid: int, waiting: dict | None) -> None:
        """Process ``pid`` now waits on ``waiting`` (``call``, ``object``, ``where``, ``text``,
        ``since``), or runs again (None)."""
        if waiting is not None:
            fields = ("call", "object", "where", "text", "since", "pid", "oid")
            waiting = {name: waiting.get(name) for name in fields}
            if not isinstance(waiting["text"], str):
                return
            waiting["text"] = waiting["text"][:200]
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None or proc.waiting == waiting:
                return
            proc.waiting, proc.held_by = waiting, []  # the next look at the holders says it again
        self.notify([proc.info()], [])

    def held_by(self, holders: dict[int, list[int]]) -> None:
        """Who holds the lock each waiting process waits to acquire, by waiter (the diagnoses'
        wait-for graph): said at the end of its wait's text, ``…, held by 411``."""
        changed = []
        with self.lock:
            for proc in self.workers.values():
                now = holders.get(proc.pid, []) if proc.waiting is not None and proc.ended_at is None else []
                if now != proc.held_by:
                    proc.held_by = now
                    changed.append(proc.info())
        if changed:
            self.notify(changed, [])

    def failed(self, pid: int, traceback: str, manager_lost: bool) -> None:
        """Process ``pid``'s task raised: keep its traceback (its end is reported on its own)."""
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None:
                return
            proc.error, proc.manager_lost = traceback[-65536:], manager_lost
        self.notify([proc.info()], [])

    def exited(self, pid: int, code: int | None) -> None:
        """Process ``pid`` ended: its parent reaped ``code``, or (None) its connection closed."""
        with self.lock:
            proc = self.workers.get(pid)
            if proc is None and code is not None and pid in self.told_early:
                # its parent started it and has now reaped it: listed, ended, at once (its own
                # hello may come much later); never signalled, it has no live process (ps None)
                role, name, ppid = self.told_early.pop(pid)
                proc = self.workers[pid] = ProcessRecord(pid, role or "process", name or "?")
                proc.told = True
                proc.parent_told(ppid)
            if proc is None:
                if code is not None:
                    self.pending_exit[pid] = code
                return
            if proc.ended_at is None:
                self.ended.append(pid)
                proc.finish(code)
                logger.info("process %d %s", pid, proc.describe_end())
            else:
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

    def clear_ended(self) -> list[int]:
        """Forget ended processes; return their PIDs."""
        with self.lock:
            pids = [pid for pid, p in self.workers.items() if p.ended_at is not None]
            for pid in pids:
                del self.workers[pid]
                self.forget_output(pid)
            self.ended.clear()
        if pids:
            self.notify([], pids)
        return pids


_refused: collections.deque[int] = collections.deque(maxlen=64)


def _refused_once(pid: int, sender: int) -> None:
    """One log line per refused PID (a program may repeat itself)."""
    if pid not in _refused:
        _refused.append(pid)
        logger.warning("PID %d says it started PID %d, which is not its child: not listed", sender, pid)
