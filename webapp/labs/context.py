"""LabContext: the ``lab`` handle a lesson's ``main`` gets, in place of the multiprocessing module.

``lab.Process``, ``lab.Pool``, ``lab.Queue``, ``lab.Pipe``, ``lab.Lock``, ``lab.Barrier``
and ``lab.Manager`` return the real objects from the server's context (forkserver), so
the lesson shows real behaviour. Processes, pools and managers are also recorded with
the run's :class:`~webapp.labs.supervise.Supervision`, which kills and reaps them; and
each child process starts with ``run_child``, so it reports its states and output.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.context import BaseContext

from workers.labs.report import Reporter, install_pool_worker, run_child

from .order import ReportOrder
from .run import LabRun

START_METHODS = ("forkserver", "spawn")


class Stopped(Exception):
    """The run hit its time limit or was stopped: start and print nothing more."""


def _short(value: object) -> str:
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 24 else text[:21] + "..."
    return type(value).__name__


def call_label(target: Callable, args: tuple) -> str:
    """``run('msc0', 2.0)``: how the timeline names what a process runs."""
    return f"{target.__name__}({', '.join(_short(a) for a in args)})"


class LabContext:
    """What a lesson's ``main`` uses to start processes and report from the server."""

    def __init__(
        self, run: LabRun, ctx: BaseContext, supervision, agents: tuple[str, str], reports: ReportOrder
    ) -> None:
        """``agents``: the dashboard's agent directory and key, which the run's processes report to."""
        self.run = run
        self.ctx = ctx
        self.supervision = supervision
        self.main_thread = threading.get_ident()  # built in the thread that runs the lesson's main
        self.reports = reports
        self.reporter = Reporter(*agents, run.id, ctx.Lock(), ctx.RawValue("Q", 0))

    def _check(self) -> None:
        if self.supervision.stopping:
            raise Stopped(self.supervision.reason)

    # -- the multiprocessing API, recorded -------------------------------------------
    def Process(self, target: Callable, args: tuple = (), start_method: str | None = None):  # noqa: N802
        """A real Process that reports to this run; ``start_method`` may pick ``spawn``."""
        self._check()
        ctx = self.ctx
        if start_method is not None and start_method != ctx.get_start_method():
            if start_method not in START_METHODS:
                raise ValueError(f"start method must be one of {START_METHODS}")
            ctx = multiprocessing.get_context(start_method)
        label = call_label(target, args)
        process = ctx.Process(target=run_child, args=(self.reporter, target, args, label), daemon=True)
        self.supervision.add_process(process)
        return process

    def Pool(self, processes: int):  # noqa: N802
        """A real Pool whose workers report to this run; callbacks run in the server."""
        self._check()
        pool = self.ctx.Pool(processes, initializer=install_pool_worker, initargs=(self.reporter,))
        self.supervision.add_pool(pool)
        return pool

    def Manager(self):  # noqa: N802
        """A real SyncManager, started now; its process shows on the timeline."""
        self._check()
        manager = self.ctx.Manager()
        self.supervision.add_manager(manager)
        return manager

    def Queue(self):  # noqa: N802
        return self.ctx.Queue()

    def Pipe(self, duplex: bool = True):  # noqa: N802
        return self.ctx.Pipe(duplex)

    def Lock(self):  # noqa: N802
        return self.ctx.Lock()

    def Barrier(self, parties: int):  # noqa: N802
        return self.ctx.Barrier(parties)

    # -- reporting from the server's own threads -----------------------------------------
    def print(self, *args: object) -> None:
        """Print a line as this server thread (its PID is the server's).

        Once the run is stopped, the lesson's main is stopped at its next print: what it
        would say next ("all 4 processes done") is no longer true, its processes were killed.
        """
        if threading.get_ident() == self.main_thread:
            self._check()
        self.run.add_line(" ".join(str(a) for a in args))

    def event(self, kind: str, state: str | None = None, label: str = "", **extra: object) -> None:
        body = {"pid": os.getpid(), "tid": threading.get_ident(), "t": time.time(), "kind": kind}
        if state is not None:
            body["state"] = state
        self.run.add_event({**body, "label": label, **extra})

    @contextlib.contextmanager
    def state(self, name: str, label: str = "") -> Iterator[None]:
        """Show this server thread in state ``name`` while the block runs."""
        self.event("state", name, label)
        try:
            yield
        finally:
            self.event("state", "running")
