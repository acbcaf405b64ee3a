"""LabRunner: starts lab runs in server threads, drains their reports, enforces time limits.

Each run gets two threads: one runs the lesson's ``main`` (which starts the processes),
one drains the run's report queue, sends batches to the run's room, and stops the run at
its time limit. At most ``max_running`` runs go at once, and the ``keep`` most recent
runs are remembered; older finished ones are dropped.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext

from sharedstate.encoding import encode

from .catalog import Lab
from .context import LabContext
from .run import DONE, FAILED, FRAME, RUNNING, TIMEOUT, LabRun
from .supervise import Supervision

logger = logging.getLogger(__name__)

GRACE = 3.0  # after a stop, how long the lesson's main gets to notice before we give up on it


class Busy(RuntimeError):
    """Too many runs are going; try again when one ends."""


class LabRunner:
    """Owns every lab run of this server."""

    def __init__(
        self, ctx: BaseContext, emit: Callable[[str, dict], None], keep: int = 50, max_running: int = 4
    ) -> None:
        self.ctx = ctx
        self.emit = emit
        self.keep = keep
        self.max_running = max_running
        self.runs: collections.OrderedDict[str, tuple[LabRun, Supervision]] = collections.OrderedDict()
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
        if run.status == RUNNING and supervision.stop(FAILED, "stopped by the user"):
            run.add_line("[mpscope] stopped by the user: killing the run's processes")
        return run

    def close(self, timeout: float = 5.0) -> None:
        """Stop every run and wait for its processes to be reaped."""
        with self.lock:
            self.closing = True
            entries, threads = list(self.runs.values()), list(self.threads)
        for run, supervision in entries:
            if run.status == RUNNING:
                supervision.stop(FAILED, "the server is shutting down")
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _trim(self) -> None:
        finished = [rid for rid, (run, _) in self.runs.items() if run.status != RUNNING]
        for rid in finished[: max(0, len(self.runs) - self.keep)]:
            del self.runs[rid]

    # -- one run --------------------------------------------------------------------------
    def _run(self, lab: Lab, run: LabRun, supervision: Supervision) -> None:
        params = dict(run.params)
        time_limit = params.pop("time_limit")
        context = LabContext(run, self.ctx, supervision)
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
        done.set()
        drain.join()
        self._finish(lab, run, supervision, context, finished, result, error)

    def _drain(self, lab, run, supervision, context, done, finished, time_limit) -> None:
        reports = context.reports
        deadline = time.monotonic() + time_limit
        while True:
            message = None
            try:
                if reports.poll(FRAME):
                    message = reports.recv()
            except Exception as exc:  # never expected: reports are written whole
                logger.warning("lab run %s: unreadable report: %r", run.id, exc)
            if message is not None:
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
            if done.is_set() and message is None:
                return

    def _handle(self, run: LabRun, message: tuple) -> None:
        kind = message[0]
        if kind == "event":
            run.add_event(message[1])
        elif kind == "out":
            run.add_chunk(*message[1:])
        elif kind == "result":
            run.record(message[1], encode(message[2]))

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
        context.reports.close()
        context.reporter.conn.close()
        run.flush(final=True)
        took = run.ended_at - run.started_at
        logger.info(
            "lab %s: run %s %s in %.1f s%s", lab.name, run.id, status, took, f" ({error})" if error else ""
        )
