"""The program's processes as the kernel has them, beside those whose agent connected.

An agent connection is not enough to know what runs: a process may close it (``os.dup2``
over its descriptor) and go on, and a double-forked daemon, a ``Popen(...,
start_new_session=True)`` child or a plain ``sleep`` has none. So, every second,
:class:`Descendants` walks the children (``/proc`` parentage, one read per sweep) of the
program's main process and of every live process of the table, and lists what it finds.

On Linux mpscope makes itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): a
descendant whose parent ends is re-parented to mpscope, not to init, so a double-forked
daemon stays below us, visible and ours to stop; we reap those adopted children. A child
of mpscope that mpscope did not start (not the program's main process, nor a helper of
the Labs) is such an orphan of the program's once seen twice, 50 ms apart at least (a
helper being started is not yet in multiprocessing's books for a moment): ``mpscope run``'s
process starts no other children.

A process whose agent connection closed but which still runs stays ``running``, with a
``note`` that it has no agent (no stack or waits; Kill still works, as the kernel says it
is the program's). Stop and Ctrl-C kill every process found so (:meth:`stop_rest`) and
print any that could not be stopped, by PID and command line. Only kernel parentage
decides what is the program's: never a PID a process names.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing.forkserver
import multiprocessing.process
import multiprocessing.resource_tracker
import os
import sys
import threading
import time
from collections.abc import Callable

import psutil

from ..process_record import ProcessRecord, is_mpscope_or_above
from ..processes import ProcessTable

logger = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
SWEEP_EVERY = 1.0  # as the table samples CPU: one read of /proc (~5 ms on a busy machine)
GONE_GRACE = 1.0  # how long a process that closed its agent connection has to end before shown detached
SECOND_LOOK = 0.05
NO_AGENT = "no agent connection: it runs without mpscope's agent (no stack or waits); Kill still works"
DETACHED = "its agent connection closed while it runs (no stack or waits any more); Kill still works"


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux); return whether it is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Descendants:
    """Lists the program's processes by kernel parentage, reaps adopted ones, stops what is left."""

    def __init__(self, table: ProcessTable, main_pid: Callable[[], int | None]) -> None:
        self.table = table
        self.main_pid = main_pid
        self.subreaper = become_subreaper()
        self.me = psutil.Process()
        self.lock = threading.Lock()
        self.adopted: dict[int, psutil.Process] = {}  # orphans of the program re-parented to mpscope
        self.first_seen: dict[int, tuple[psutil.Process, float]] = {}  # unknown children of mpscope
        self.unsure: dict[int, tuple[ProcessRecord, float]] = {}  # agent gone, process not yet ended
        self.wake = threading.Event()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mpscope-descendants", daemon=True)
        self.thread.start()

    # -- what the watch tells ------------------------------------------------------
    def gone(self, pid: int) -> bool:
        """``pid``'s agent connection closed: True if it still runs (its end is then seen here)."""
        record = self.table.get(pid)
        if record is None or record.ended_at is not None or not record.alive():
            return False
        with self.lock:
            self.unsure[pid] = (record, time.monotonic() + GONE_GRACE)
        self.wake.set()
        return True

    def stop_rest(self, within: float = 3.0) -> list[psutil.Process]:
        """SIGKILL every process of the program that still runs; print and return those left."""
        deadline = time.monotonic() + within
        while True:
            found = self.program_processes(settled=False)
            for process in found:
                try:
                    process.kill()  # psutil checks it is still the process it found
                except psutil.Error:
                    pass
            psutil.wait_procs(found, timeout=0.1)
            self._reap()
            if not found or time.monotonic() > deadline:
                break
        left = [p for p in found if _running(p)]
        for process in left:
            line = f"mpscope: left running: PID {process.pid} {_command(process)}"
            print(line, file=sys.stderr, flush=True)
        return left

    def close(self) -> None:
        self.closing.set()
        self.wake.set()
        self.thread.join(2)

    # -- finding them ----------------------------------------------------------------
    def program_processes(self, settled: bool = True) -> list[psutil.Process]:
        """Every live process of the program: below its main process, below a live process of
        the table that is ours, or an orphan of it that mpscope adopted, and their descendants."""
        roots: dict[int, psutil.Process] = {}
        main = self.main_pid()
        if main is not None:
            record = self.table.get(main)
            if record is not None and record.ps is not None and record.same_process():
                roots[main] = record.ps
        for record in self.table.live():
            if record.ours and record.ps is not None and record.same_process():
                roots.setdefault(record.pid, record.ps)
        roots.update(self._adopt(SECOND_LOOK if not settled else SWEEP_EVERY / 2))
        found: dict[int, psutil.Process] = {pid: root for pid, root in roots.items() if pid != main}
        children = _children_map()  # one read of /proc per sweep, however many roots
        below = [pid for pid in roots if _running(roots[pid])]
        while below:
            parent = below.pop()
            for pid in children.get(parent, ()):
                if pid in found or is_mpscope_or_above(pid):
                    continue
                known = self.table.get(pid)
                try:  # the table's, if it lists this PID as a live process: else the kernel's now
                    if known is not None and known.ended_at is None:
                        found[pid] = known.ps
                    elif (process := psutil.Process(pid)).ppid() == parent:  # not a PID reused since
                        found[pid] = process
                    else:
                        continue
                except psutil.Error:
                    continue
                below.append(pid)
        return [process for process in found.values() if _running(process)]

    def _adopt(self, after: float) -> dict[int, psutil.Process]:
        """mpscope's children that are the program's orphans (see the module docstring)."""
        if not self.subreaper:
            return {}
        try:
            children = self.me.children()
        except psutil.Error:
            return {}
        own, now = self._own_children(), time.monotonic()
        with self.lock:
            for child in children:
                if child.pid in own or child.pid in self.adopted:
                    continue
                seen = self.first_seen.get(child.pid)
                if seen is None or seen[0] != child:
                    self.first_seen[child.pid] = (child, now)
                elif now - seen[1] >= after:
                    del self.first_seen[child.pid]
                    self.adopted[child.pid] = child
            current = {c.pid for c in children}
            for pid in [p for p in self.first_seen if p not in current]:
                del self.first_seen[pid]
            return dict(self.adopted)

    def _own_children(self) -> set[int]:
        """The children mpscope started itself: the program, and the Labs' processes and helpers."""
        own = {self.main_pid()}
        own.update(p.pid for p in list(multiprocessing.process._children) if p.pid)
        own.add(getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None))
        own.add(getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None))
        return {pid for pid in own if pid}

    def _reap(self) -> None:
        """Reap the adopted orphans that ended; their exit status ends their row."""
        with self.lock:
            adopted = list(self.adopted.items())
        for pid, process in adopted:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, None  # reaped already (or never ours to reap)
            if not done:
                continue
            with self.lock:
                self.adopted.pop(pid, None)
            record = self.table.get(pid)
            if record is not None and record.ps == process:
                self.table.exited(pid, None if status is None else os.waitstatus_to_exitcode(status))

    # -- the thread ----------------------------------------------------------------
    def _run(self) -> None:
        next_sweep = 0.0
        while not self.closing.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + SWEEP_EVERY
                self._settle_unsure()
            except Exception:  # never let the thread die: listing is best effort
                logger.exception("listing the program's processes failed")
            with self.lock:
                pause = 0.02 if self.unsure else max(0.0, next_sweep - time.monotonic())
            self.wake.wait(pause)
            self.wake.clear()

    def _sweep(self) -> None:
        self._reap()
        for process in self.program_processes():
            record = self.table.get(process.pid)
            if record is not None and (record.ps == process or record.ended_at is None):
                continue  # listed (or the table's other process of this PID has not ended yet)
            try:
                ppid = process.ppid()
            except psutil.Error:
                continue
            self.table.found(process, _command(process), ppid, NO_AGENT)
        for record in self.table.live():
            if record.note is not None and not record.alive():
                self.table.exited(record.pid, None)

    def _settle_unsure(self) -> None:
        now = time.monotonic()
        with self.lock:
            unsure = list(self.unsure.items())
        for pid, (record, until) in unsure:
            if self.table.get(pid) is not record or record.ended_at is not None:
                settled = True
            elif not record.alive():
                self.table.exited(pid, None)
                settled = True
            elif now >= until:
                self.table.described(pid, DETACHED, _command(record.ps))
                settled = True
            else:
                settled = False
            if settled:
                with self.lock:
                    self.unsure.pop(pid, None)


def _children_map() -> dict[int, list[int]]:
    """Each PID's children, from every ``/proc/PID/stat`` read once."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rpartition(b")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # gone
            children.setdefault(ppid, []).append(int(entry))
    return children


def _running(process: psutil.Process | None) -> bool:
    if process is None:
        return False
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:200] or process.name()
    except psutil.Error:
        return "?"
