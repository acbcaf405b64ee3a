"""ReplayBackEnd: ``mpscope open RUN.sqlite``, the dashboard's core fed from a recording.

The third back end (mode ``replay``): it starts no process. A position in the recording
is rebuilt by the reader (the snapshot before it plus the ops and events since) and put
into the core: the objects into its mirror (so snapshots, ``GET /api/state`` and
``/api/objects`` answer from it as live), the process table, output, program and Pool
tasks into the fields every snapshot carries; then every page is sent a fresh snapshot.
Playing sends the recorded broadcasts again as they came, at 1x, 4x or 16x, through the
core's broadcast, and applies each ``changes`` to the mirror first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .process_record import Conflict
from .recording.reader import RecordingReader, State
from .state import ManagerUnavailable

if TYPE_CHECKING:
    from .dashboard import Dashboard

logger = logging.getLogger(__name__)

SPEEDS = (1, 4, 16)
READ_ONLY = "this is a recording (mpscope open): nothing can be changed"
STATUS_EVERY = 0.25  # seconds of wall time between two position updates while playing
BATCH = 500  # events read at once while playing


class ReplayBackEnd:
    """A recording served read-only, at a position that the pages move."""

    mode = "replay"

    def __init__(self, path: str, dashboard: Dashboard) -> None:
        self.path = Path(path)
        self.dashboard = dashboard
        self.reader = RecordingReader(self.path)
        self.lock = threading.RLock()  # position, state, reader
        self.position = self.reader.end
        self.playing = False
        self.speed = 1
        self.state: State = self.reader.state_at(self.position)
        self._player: threading.Thread | None = None
        self._wake = threading.Event()
        self._generation = 0  # a seek or pause ends the play in progress
        # the diagnoses in force are the recorded ones: the core's own would judge the
        # recording's processes by this machine's (none of them runs here)
        if getattr(dashboard, "diagnoses", None) is not None:
            dashboard.diagnoses.close()
        self._load(self.state)

    # -- what the core asks of a back end ------------------------------------------------
    def fields(self) -> dict:
        with self.lock:
            state = self.state
            workers = list(state.workers.values())
            alive = {w["pid"] for w in workers if w.get("state") in ("starting", "running")}
            locks = [
                {**lock, "holder_alive": None if lock["holder_pid"] is None else lock["holder_pid"] in alive}
                for lock in self.dashboard.mirror.snapshot_locks(catch_up=False)
            ]
            out = {
                "workers": workers,
                "output": list(state.output),
                "pool_tasks": list(state.pool_tasks.values()),
                "program": state.fields.get("program"),
                "locks": locks,
                "diagnoses": state.fields.get("diagnoses") or [],
                "replay": self.status(),
            }
            return out

    def status(self) -> dict:
        meta = self.reader.meta
        return {
            "file": self.path.name,
            "mode": meta.get("mode"),
            "start": self.reader.start,
            "end": self.reader.end,
            "position": self.position,
            "playing": self.playing,
            "speed": self.speed,
            "stopped": meta.get("stopped"),
            "output_dropped_until": meta.get("output_dropped_until"),
        }

    def manager_info(self) -> dict:
        manager = self.state.fields.get("manager")
        return manager if isinstance(manager, dict) else {"pid": None, "restarts": 0, "state": "none"}

    def spawn_workers(self, count: int, task: str, params: dict) -> list[dict]:
        raise Conflict(READ_ONLY)

    def reset(self) -> int:
        raise ManagerUnavailable(READ_ONLY)

    def manager_contents(self) -> dict:
        raise ManagerUnavailable(READ_ONLY)

    def release(self, oid: str, pid: int) -> None:
        raise Conflict(READ_ONLY)

    def processes_ended(self, pids: set[int]) -> None:
        """Nothing runs."""

    def pool_tasks(self) -> list[dict]:
        with self.lock:
            return list(self.state.pool_tasks.values())

    def stopping(self, interrupted: bool = False) -> None:
        self.pause()

    def close(self) -> None:
        self.pause()
        if self._player is not None:
            self._player.join(5)
        with self.lock:
            self.reader.close()

    # -- commands --------------------------------------------------------------------------
    def seek(self, t: float) -> dict:
        """Rebuild the state at ``t`` (clamped to the recording) and send every page a snapshot."""
        with self.lock:
            playing = self.playing
            self._stop_play()
            t = min(max(t, self.reader.start), self.reader.end)
            self.position = t
            self.state = self.reader.state_at(t)
            self._load(self.state)
            if playing:
                self._start_play()
            status = self.status()
        self.dashboard.resync_all()
        self._send("replay", status)
        return status

    def play(self, speed: int) -> dict:
        with self.lock:
            self._stop_play()
            self.speed = speed
            if self.position >= self.reader.end:  # at the end: play from the start
                self.position = self.reader.start
                self.state = self.reader.state_at(self.position)
                self._load(self.state)
                resync = True
            else:
                resync = False
            self._start_play()
            status = self.status()
        if resync:
            self.dashboard.resync_all()
        self._send("replay", status)
        return status

    def pause(self) -> dict:
        with self.lock:
            self._stop_play()
            status = self.status()
        self._send("replay", status)
        return status

    # -- playing ---------------------------------------------------------------------------
    def _load(self, state: State) -> None:
        objects = {
            oid: (o.kind, o.label, o.replica, o.manager_pid, o.origin) for oid, o in state.objects.items()
        }
        self.dashboard.mirror.replace(state.version, objects)
        self.dashboard.clients.cache.invalidate()

    def _start_play(self) -> None:
        self.playing = True
        self._generation += 1
        self._wake = threading.Event()  # this play's own: set when it must end
        self._player = threading.Thread(
            target=self._play, args=(self._generation, self._wake), name="mpscope-replay", daemon=True
        )
        self._player.start()

    def _stop_play(self) -> None:
        self.playing = False
        self._generation += 1
        self._wake.set()

    def _play(self, generation: int, wake: threading.Event) -> None:
        with self.lock:
            anchor_pos, anchor_wall, speed = self.position, time.monotonic(), self.speed
            after = self.state.event
        last_status = time.monotonic()
        while True:
            with self.lock:
                if generation != self._generation:
                    return
                rows = self.reader.events(after, limit=BATCH)
            if not rows:
                break
            for eid, t, kind, text in rows:
                delay = anchor_wall + (t - anchor_pos) / speed - time.monotonic()
                if delay > 0 and wake.wait(delay):
                    return  # paused or moved
                with self.lock:
                    if generation != self._generation:
                        return
                    self._apply(kind, json.loads(text))
                    self.state.event = after = eid
                    self.position = max(self.position, t)
                if time.monotonic() - last_status >= STATUS_EVERY:
                    last_status = time.monotonic()
                    self._send("replay", self.status())
        # to the end of the recording (some time may follow the last event)
        delay = anchor_wall + (self.reader.end - anchor_pos) / speed - time.monotonic()
        if delay > 0 and wake.wait(delay):
            return
        with self.lock:
            if generation != self._generation:
                return
            self.position = self.reader.end
            self.playing = False
            status = self.status()
        self._send("replay", status)

    def _send(self, event: str, payload: dict) -> None:
        self.dashboard.clients.broadcast(event, payload)

    def _apply(self, kind: str, data: dict) -> None:
        """One recorded broadcast: into the state (and the mirror), then to every page as it was."""
        if kind == "changes":
            self.dashboard.mirror.apply_ops(data.get("ops", ()))
            self.state.version = self.dashboard.mirror.version
        elif kind == "output":
            self.state.output.extend(data.get("lines", ()))
            del self.state.output[: -2 * 500]
        else:
            self.state.apply(kind, data)
        self._send(kind, data)
