"""What a live server's processes are doing: descendants, survivors, zombies, descriptors, threads.

:class:`ServerProcesses` is a mixin of :class:`testkit.server.Server`: it remembers every
process the server started (``tracked``), finds any that carry the server's environment
mark wherever they were reparented, and reads ``/proc`` for zombies nobody reaped.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from .waiting import is_alive, wait_for

MARK = "MPSCOPE_TEST_SERVER"  # set in each test server's environment, inherited by all it starts


def proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state letter, ppid)`` from ``/proc/PID/stat``, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return fields[0], int(fields[1])


def zombies_under(pids: set[int]) -> list[int]:
    """Every zombie in ``/proc`` whose parent is one of ``pids``: children nobody reaped."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None and stat[0] == "Z" and stat[1] in pids:
                found.append(int(entry))
    return found


def processes_marked(mark: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``MARK=mark``, wherever it was reparented."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark and is_alive(process):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


class ServerProcesses:
    """The server's process tree, as a mixin: needs ``pid``, ``ps``, ``mark`` and ``health()``."""

    pid: int
    ps: psutil.Process
    mark: str
    tracked: dict[int, psutil.Process]

    def descendants(self) -> list[psutil.Process]:
        try:
            return self.ps.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def track(self, pid: int) -> None:
        """Remember a process the server started, to check it is gone after the server."""
        # psutil.Process(None) would be this test process: never track (and later kill) that
        assert type(pid) is int and pid > 1 and pid != os.getpid(), f"not a process to track: {pid!r}"
        try:
            self.tracked.setdefault(pid, psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass

    def track_descendants(self) -> list[psutil.Process]:
        """Remember every process now below the server; return them."""
        found = self.descendants()
        for process in found:
            self.tracked.setdefault(process.pid, process)
        return found

    def descendant_pids(self) -> set[int]:
        """PIDs of the live processes below the server now (each one also tracked)."""
        return {p.pid for p in self.track_descendants() if is_alive(p)}

    def marked(self) -> list[psutil.Process]:
        """Every live process carrying this server's environment mark, wherever it was reparented."""
        return processes_marked(self.mark)

    def survivors(self, timeout: float) -> list[int]:
        """Wait up to ``timeout`` for every tracked or marked process to end; kill and return the rest."""

        def alive(everywhere: bool = False) -> list[psutil.Process]:
            found = {p.pid: p for p in self.tracked.values() if is_alive(p)}
            if everywhere or not found:  # reading every process's environment is slower
                found.update({p.pid: p for p in self.marked()})
            return list(found.values())

        try:
            wait_for(lambda: not alive(), timeout, "the server's processes to end")
            return []
        except AssertionError:
            left = alive(everywhere=True)
            for process in left:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            return sorted(p.pid for p in left)

    # -- what runs below a live server -----------------------------------------------------
    @property
    def manager_pid(self) -> int:
        return self.health()["manager_pid"]  # type: ignore[attr-defined]

    def helpers(self) -> set[int]:
        """PIDs of the server's own helper processes: forkserver, resource tracker, Manager."""
        found = {self.manager_pid}
        for process in self.descendants():
            try:
                cmdline = " ".join(process.cmdline())
            except psutil.Error:
                continue
            if "forkserver" in cmdline or "resource_tracker" in cmdline:
                found.add(process.pid)
        return found

    def worker_processes(self) -> set[int]:
        """PIDs of the worker processes really running now (descendants that are not helpers)."""
        helpers = self.helpers()
        return {p.pid for p in self.descendants() if p.pid not in helpers and is_alive(p)}

    def zombies(self) -> list[int]:
        """Zombie children of the server or of any of its descendants."""
        return zombies_under({self.pid} | {p.pid for p in self.descendants()})

    def fds(self) -> int:
        return self.ps.num_fds()

    def threads(self) -> int:
        return self.ps.num_threads()

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def wait_baseline(self, fds: int, threads: int, timeout: float = 15.0) -> None:
        """Wait until the server's open descriptors and threads are back to a baseline."""

        def back() -> bool:
            return self.fds() <= fds and self.threads() <= threads

        try:
            wait_for(back, timeout, "descriptors and threads to return to their baseline")
        except AssertionError:
            raise AssertionError(
                f"fds {self.fds()} (baseline {fds}), threads {self.threads()} (baseline {threads})"
            ) from None
