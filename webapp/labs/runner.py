"""LabRunner: starts lab runs in server threads, drains their reports, enforces time limits.

Each run gets two threads: one runs the lesson's ``main`` (which starts the processes),
one drains the run's reports, sends batches to the run's room, and stops the run at its
time limit. The reports come over the agent channel (``lab`` messages, which the hub
hands to :meth:`LabRunner.receive`), put back in order per run (:class:`ReportOrder`);
the run's processes are in the dashboard's process table like any others. At most
``max_running`` runs go at once, and the ``keep`` most recent runs are remembered; older
finished ones are dropped.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext

from mpscope_agent import protocol

from ..agents.hub import AgentHub
from .catalog import Lab
from .context import LabContext
from .order import ReportOrder
from .run import DONE, FAILED, FRAME, RUNNING, STOPPED, TIMEOUT, LabRun
from .supervise import Supervision

logger = logging.getLogger(__name__)

GRACE = 3.0  # after a stop, how long the lesson's main gets to notice before we give up on it


class Busy(RuntimeError):
    """Too many runs are going; try again when one ends."""


class LabRunner:
    """Owns every lab run of this server."""

    def __init__(
        self,
        ctx: BaseContext,
        emit: Callable[[str, dict], None],
        keep: int = 50,
        max_running: int = 4,
        hub: AgentHub | None = None,
    ) -> None:
        self.ctx = ctx
        self.emit = emit
        self.keep = keep
        self.max_running = max_running
        self.hub = hub
        self.runs: collections.OrderedDict[str, tuple[LabRun, Supervision]] = collections.OrderedDict()
        self.reports: dict[str, ReportOrder] = {}  # of the runs still going
        self.lab_pids: dict[int, str] = {}  # PID -> the run it reported for: it ends when it hangs up
        if hub is not None:
            hub.on(protocol.LAB, self.receive)
            hub.on_gone(self._gone)
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.closing = False

    def start(self, lab: Lab, params: dict) -> LabRun:
        """Start a run of ``lab`` with checked ``params``; raise Busy past the limit."""
        with self.lock:
            if self.closing:
                raise Busy("the server is shutting down")
            running = sum(1 for run, _ in self.runs.values() if run.status == RUNNING)
            if running >= self.max_running:
                raise Busy(f"{running} lab runs are going; at most {self.max_running} run at once")
            run = LabRun(secrets.token_urlsafe(9), lab.name, params, self.emit)
            supervision = Supervision(run)
            self.runs[run.id] = (run, supervision)
            self.reports[run.id] = ReportOrder()
            self._trim()
            thread = threading.Thread(
                target=self._run, args=(lab, run, supervision), name=f"lab-{lab.name}", daemon=True
            )
            self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        logger.info("lab %s: run %s started", lab.name, run.id)
        thread.start()
        return run

    def get(self, run_id: str) -> LabRun | None:
        entry = self.runs.get(run_id)
        return entry[0] if entry else None

    def stop(self, run_id: str) -> LabRun | None:
        """Stop a running run (its processes are killed); return it, or None if unknown."""
        entry = self.runs.get(run_id)
        if entry is None:
            return None
        run, supervision = entry
        if run.status == RUNNING and supervision.stop(STOPPED, "stopped by the user"):
            run.add_line("[mpscope] stopped by the user: killing the run's processes")
        return run

    def close(self, timeout: float = 5.0) -> None:
        """Stop every run and wait for its processes to be reaped."""
        with self.lock:
            self.closing = True
            entries, threads = list(self.runs.values()), list(self.threads)
        for run, supervision in entries:
            if run.status == RUNNING:
                supervision.stop(STOPPED, "the server is shutting down")
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def receive(self, pid: int, message: dict) -> None:
        """A ``lab`` report from process ``pid`` (on the agents' listener thread)."""
        order = self.reports.get(message.get("run"))
        seq = message.get("seq")
        if order is None or type(seq) is not int:
            return  # a run that already ended (its processes were killed mid-report)
        self.lab_pids[pid] = message["run"]
        order.put(seq, message)

    def _gone(self, pid: int) -> None:
        # its parent is this server, which reaps it; the table learns its end from its hang-up
        known = self.lab_pids.pop(pid, None) is not None
        if known and self.hub is not None and self.hub.table is not None:
            self.hub.table.exited(pid, None)

    def _wait_for_reports(self, run_id: str, timeout: float = 2.0) -> None:
        """Wait until every process of the run hung up: each one's last reports were read.

        Its processes are reaped already; what they sent last (a result recorded just before
        exiting) may still be on its way through the agents' listener.
        """
        if self.hub is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(run == run_id for run in list(self.lab_pids.values())):
                return
            time.sleep(0.01)

    def _report_ends(self, supervision: Supervision) -> None:
        """Tell the process table how each of the run's processes ended (they were reaped here)."""
        table = self.hub.table if self.hub is not None else None
        if table is None:
            return
        for process in supervision.exit_codes():
            table.exited(*process)

    def _trim(self) -> None:
        finished = [rid for rid, (run, _) in self.runs.items() if run.status != RUNNING]
        for rid in finished[: max(0, len(self.runs) - self.keep)]:
            del self.runs[rid]

    # -- one run --------------------------------------------------------------------------
    def _run(self, lab: Lab, run: LabRun, supervision: Supervision) -> None:
        params = dict(run.params)
        time_limit = params.pop("time_limit")
        agents = (self.hub.directory, self.hub.key) if self.hub is not None else ("", "")
        context = LabContext(run, self.ctx, supervision, agents, self.reports[run.id])
        done = threading.Event()
        finished = threading.Lock()
        drain = threading.Thread(
            target=self._drain,
            args=(lab, run, supervision, context, done, finished, time_limit),
            name=f"lab-{lab.name}-drain",
            daemon=True,
        )
        drain.start()
        context.event("start", "running", f"{lab.main.__name__}(lab, ...)")
        result, error = None, None
        try:
            result = lab.main(context, **params)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        context.event("end")
        try:
            supervision.reap_all()
        except Exception as exc:
            logger.warning("lab run %s: reaping failed: %r", run.id, exc)
        self._wait_for_reports(run.id)
        done.set()
        drain.join()
        self._report_ends(supervision)
        self._finish(lab, run, supervision, context, finished, result, error)

    def _drain(self, lab, run, supervision, context, done, finished, time_limit) -> None:
        reports = context.reports
        deadline = time.monotonic() + time_limit
        while True:
            messages = reports.take(FRAME)
            for message in messages:
                self._handle(run, message)
            now = time.monotonic()
            if (
                now > deadline
                and not done.is_set()
                and supervision.stop(TIMEOUT, f"time limit of {time_limit:g} s reached")
            ):
                run.add_line(f"[mpscope] time limit of {time_limit:g} s reached: killing the run's processes")
            if supervision.stopping and not done.is_set():
                supervision.kill_all()
                if now > supervision.stopped_at + GRACE:
                    # the lesson's main did not return: report the run as over anyway
                    self._finish(lab, run, supervision, context, finished, None, "its main did not stop")
                    return
            supervision.poll_ended()
            run.flush()
            if done.is_set() and not messages and not reports.pending:
                return

    def _handle(self, run: LabRun, message: dict) -> None:
        kind = message.get("kind")
        try:
            if kind == "event" and isinstance(message.get("event"), dict):
                run.add_event(message["event"])
            elif kind == "out":
                fields = ("pid", "ppid", "tid", "time", "stream", "text")
                run.add_chunk(*(message[name] for name in fields))
            elif kind == "result" and isinstance(message.get("key"), str):
                run.record(message["key"], message.get("value"))
        except (KeyError, TypeError, ValueError) as exc:  # our own children's: never expected
            logger.warning("lab run %s: a malformed report was skipped: %r", run.id, exc)

    def _finish(self, lab, run, supervision, context, finished, result, error) -> None:
        if not finished.acquire(blocking=False):
            return  # already finished (by the drain thread, after a main that hung)
        run.flush_screen()
        if supervision.stopping:
            status, error = supervision.status, supervision.reason
        else:
            status = FAILED if error else DONE
        summary = {}
        try:
            summary = lab.summarize(run, result or {}) if status == DONE else {}
        except Exception as exc:
            status, error = FAILED, f"could not summarise the run: {type(exc).__name__}: {exc}"
        with run.lock:
            run.result.update(summary)
            run.status, run.error, run.ended_at = status, error, time.time()
        self.reports.pop(run.id, None)
        run.flush(final=True)
        took = run.ended_at - run.started_at
        logger.info(
            "lab %s: run %s %s in %.1f s%s", lab.name, run.id, status, took, f" ({error})" if error else ""
        )
