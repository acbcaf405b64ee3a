"""One watched process as the table keeps it: who it is, its state, how it ended, its CPU and RSS.

A :class:`ProcessRecord` holds the psutil handle made when the PID was first known (its
creation time makes a later signal safe from PID reuse) and whether the process is
mpscope's own to signal (a descendant of mpscope); the states, the signals a command may
send and the errors the commands raise are here too.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil

STARTING, RUNNING, EXITED, KILLED = "starting", "running", "exited", "killed"
LIVE = (STARTING, RUNNING)
ENDED = (EXITED, KILLED)
SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT}
ROLES = ("main", "process", "pool", "manager")


class NotFound(LookupError):
    """No running process of ours has that PID."""


class Conflict(RuntimeError):
    """The request cannot be done now (a limit, or a mode that does not do it)."""


class ProcessRecord:
    """One watched process: who it is, its state, how it ended, its latest CPU and RSS."""

    def __init__(
        self,
        pid: int,
        role: str = "process",
        name: str = "?",
        started_at: float | None = None,
        task: str | None = None,
        params: dict | None = None,
        restarted_from: int | None = None,
        ps: psutil.Process | None = None,
    ) -> None:
        self.pid = pid
        self.role = role
        self.name = name
        self.task = task
        self.params = params or {}
        self.restarted_from = restarted_from
        self.state = RUNNING
        self.told = False  # its parent (or mpscope) told us its name and role
        self.killed_by_us = False  # we sent it SIGKILL
        self.started_at = started_at or time.time()
        self.ended_at: float | None = None
        self.exitcode: int | None = None
        self.signal: str | None = None
        self.error: str | None = None
        self.waiting: dict | None = None  # what it waits on, as its agent samples it (None: it runs)
        self.held_by: list[int] = []  # who holds the lock it waits for (the diagnoses' wait-for graph)
        self.manager_lost = False  # its task failed because its Manager connection broke
        self.note: str | None = None  # why it runs without an agent (program/descendants.py), if it does
        self.cpu_percent = 0.0
        self.rss: int | None = None
        self.ended = threading.Event()
        try:
            # psutil remembers the creation time, so a later signal can never reach a
            # different process that was given the same PID after ours ended. (``ps``: the
            # process the table already checked, e.g. as the child of a known process.)
            self.ps: psutil.Process | None = ps if ps is not None else psutil.Process(pid)
            # one /proc read: psutil's ppid() first checks for PID reuse (two more reads), needless
            # for a process just looked at, and this is on each spawn's serial path
            self.ppid: int | None = parent_pid(pid)
            if self.ppid is None:
                raise psutil.NoSuchProcess(pid)
        except psutil.Error:
            self.ps, self.ppid = None, None
        # mpscope's descendant when it entered the table (the table may also vouch for it):
        # only such a process is ever signalled, even if an agent of another one connected
        self.ours = self.ps is not None and (self.ppid == os.getpid() or descends_from_mpscope(self.ppid))

    def alive(self) -> bool:
        if self.state not in LIVE or self.ps is None:
            return False
        try:
            return self.ps.is_running() and self.ps.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def same_process(self) -> bool:
        """Whether the process this record was made for still exists (a zombie too)."""
        try:
            return self.ps is not None and self.ps.is_running()
        except psutil.Error:
            return False

    def signal_if_alive(self, signum: int) -> bool:
        """Send ``signum`` only if this very process still runs; return whether it was sent."""
        before = self.killed_by_us
        self.killed_by_us = before or signum == signal.SIGKILL  # before its end can be seen
        sent = False
        if self.ours and self.alive() and not is_mpscope_or_above(self.pid):
            try:
                self.ps.send_signal(signum)
                sent = True
            except psutil.Error:
                pass
        self.killed_by_us = before or (sent and signum == signal.SIGKILL)
        return sent

    def _waiting(self) -> dict | None:
        """Its wait as its agent described it, and who holds what it waits for, when known."""
        if self.waiting is None or not self.held_by:
            return self.waiting
        holders = ", ".join(str(pid) for pid in self.held_by)
        return {**self.waiting, "text": f"{self.waiting['text']}, held by {holders}", "held_by": self.held_by}

    def mark_running(self) -> None:
        if self.state == STARTING:
            self.state = RUNNING

    def parent_told(self, ppid: int | None) -> None:
        """Its parent's PID as its hello or its parent's ``proc`` gave it: kept if the kernel's is unknown.

        The kernel's (psutil, when the record was made) comes first; a short-lived child
        is often gone by then, and its PPID would be null on the page.
        """
        if self.ppid is None and isinstance(ppid, int) and ppid > 0:
            self.ppid = ppid

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
            "name": self.name,
            "role": self.role,
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
            "waiting": self._waiting() if self.ended_at is None else None,
            "restarted_from": self.restarted_from,
            "note": self.note if self.ended_at is None else None,
        }


def parent_pid(pid: int) -> int | None:
    """``pid``'s parent as ``/proc`` has it now; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rpartition(b")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def descends_from_mpscope(pid: int) -> bool:
    """Whether ``pid``'s chain of parents, as ``/proc`` has it now, reaches this process (mpscope)."""
    me = os.getpid()
    for _ in range(256):  # deeper than any real tree
        if pid <= 1:
            return False
        pid = parent_pid(pid)
        if pid is None:
            return False
        if pid == me:
            return True
    return False


def is_mpscope_or_above(pid: int) -> bool:
    """Whether ``pid`` is this process (mpscope) or one of its ancestors: never ours to signal."""
    if pid == os.getpid():
        return True
    ancestor = os.getppid()
    while ancestor > 1:
        if ancestor == pid:
            return True
        try:
            with open(f"/proc/{ancestor}/stat", "rb") as f:
                ancestor = int(f.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return pid == ancestor
