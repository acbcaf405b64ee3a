"""LabRun: what one run of a lab has shown so far, and the batches it sends to its room.

Events and output lines are numbered (``n``) as they are added, so a client that joins
mid-run can take the full record and then ignore any batch item it already has. Times
(``t``) are seconds since the run started. Both lists are capped; what is dropped is
counted, never silently lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from .screen import Screen

MAX_EVENTS = 5000
MAX_OUTPUT = 2000
FRAME = 0.016
# A run ends done (it finished), failed (its main raised), timeout (it reached its time
# limit) or stopped (by the user, or the server shutting down): each is worded on its own.
RUNNING, DONE, FAILED, TIMEOUT, STOPPED = "running", "done", "failed", "timeout", "stopped"


class LabRun:
    """One run of one lab: its status, timeline events, output lines and result."""

    def __init__(self, run_id: str, lab: str, params: dict, emit: Callable[[str, dict], None]) -> None:
        self.id = run_id
        self.lab = lab
        self.params = params
        self.emit = emit
        self.status = RUNNING
        self.error: str | None = None
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.events: list[dict] = []
        self.output: list[dict] = []
        self.result: dict = {}
        self.dropped = {"events": 0, "output": 0}
        self.screen = Screen()
        self.lock = threading.Lock()
        self.sent = {"events": 0, "output": 0}
        self.last_emit = 0.0
        self.ended_pids: set[int] = set()
        self.started_pids: dict[int, str] = {}

    # -- adding -----------------------------------------------------------------
    def rel(self, t: float) -> float:
        return round(t - self.started_at, 4)

    def add_event(self, event: dict) -> None:
        """Record a timeline event; ``t`` arrives as wall-clock time."""
        event = {**event, "t": self.rel(event["t"])}
        with self.lock:
            if event["kind"] == "start":
                self.started_pids.setdefault(event["pid"], event.get("label", ""))
            elif event["kind"] == "end" and event.get("process"):
                self.ended_pids.add(event["pid"])
            if len(self.events) >= MAX_EVENTS:
                self.dropped["events"] += 1
                return
            event["n"] = len(self.events)
            self.events.append(event)

    def add_chunk(self, pid: int, ppid: int, tid: int, t: float, stream: str, text: str) -> None:
        """Put one child's write on the run's shared screen."""
        with self.lock:
            lines = self.screen.write(pid, ppid, tid, self.rel(t), stream, text)
            self._add_lines(lines)

    def add_line(self, text: str, t: float | None = None) -> None:
        """Add a whole line printed by the server itself (a lab's main, a Pool callback)."""
        line = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "tid": threading.get_ident(),
            "t": self.rel(time.time() if t is None else t),
            "stream": "stdout",
            "text": text,
        }
        with self.lock:
            self._add_lines([line])

    def _add_lines(self, lines: list[dict]) -> None:
        for line in lines:
            if len(self.output) >= MAX_OUTPUT:
                self.dropped["output"] += 1
                continue
            line["n"] = len(self.output)
            self.output.append(line)

    def record(self, key: str, value: object) -> None:
        with self.lock:
            self.result.setdefault(key, []).append(value)

    def flush_screen(self) -> None:
        with self.lock:
            self._add_lines(self.screen.flush())

    # -- reading and sending ----------------------------------------------------
    def info(self) -> dict:
        """The whole run, as ``GET /api/labs/runs/<id>`` returns it."""
        with self.lock:
            return {
                "id": self.id,
                "lab": self.lab,
                "params": self.params,
                "status": self.status,
                "error": self.error,
                "started_at": self.started_at,
                "ended_at": self.ended_at,
                "events": list(self.events),
                "output": list(self.output),
                "result": self.result if self.status != RUNNING else {},
                "dropped": dict(self.dropped),
                "server_pid": os.getpid(),
            }

    def flush(self, final: bool = False) -> None:
        """Send what was added since the last batch, at most once a frame unless ``final``."""
        now = time.monotonic()
        if not final and now - self.last_emit < FRAME:
            return
        with self.lock:
            events = self.events[self.sent["events"] :]
            output = self.output[self.sent["output"] :]
            self.sent = {"events": len(self.events), "output": len(self.output)}
            payload = {"id": self.id, "events": events, "output": output, "status": self.status}
            if self.status != RUNNING:
                payload.update(
                    result=self.result, error=self.error, dropped=dict(self.dropped), ended_at=self.ended_at
                )
        if events or output or final:
            self.last_emit = now
            self.emit(self.id, payload)
