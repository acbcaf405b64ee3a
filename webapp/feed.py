"""ChangeFeed: the one server thread that turns journal entries into ``changes`` events.

It blocks in the Manager waiting for new journal entries, replays them into the
mirror and broadcasts them as one versioned batch. An idle feed sends each change at
once; a busy one coalesces what arrives within one 16 ms frame into one message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .state import MANAGER_LOST, SharedState

logger = logging.getLogger(__name__)

FRAME = 0.016


class ChangeFeed:
    """Reads the Manager's journal and pushes every change to the clients."""

    def __init__(
        self,
        state: SharedState,
        emit_changes: Callable[[dict], None],
        resync_all: Callable[[], None],
        manager_lost: Callable[[], None],
    ) -> None:
        self.state = state
        self.emit_changes = emit_changes
        self.resync_all = resync_all
        self.manager_lost = manager_lost
        self.stopping = threading.Event()
        self.last_emit = 0.0
        self.thread = threading.Thread(target=self._run, name="mpscope-feed", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(3)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._step()
            except MANAGER_LOST as exc:
                if self.stopping.is_set():
                    return
                logger.warning("lost the Manager (%s); restarting it", type(exc).__name__)
                self.manager_lost()
            except Exception:
                logger.exception("change feed error")
                time.sleep(0.1)  # avoid spinning if something is persistently wrong

    def _step(self) -> None:
        journal, mirror = self.state.journal, self.state.mirror
        status, entries = journal.read(mirror.version, 1.0)
        if status == "overflow":
            mirror.load(*journal.snapshot())
            self.resync_all()
            return
        if not entries:
            return
        wait = self.last_emit + FRAME - time.monotonic()
        if wait > 0:  # busy: gather this frame's changes into one message
            time.sleep(wait)
            more_status, more = journal.read(entries[-1][0], 0)
            if more_status == "ok":
                entries.extend(more)
        first = mirror.version
        ops = mirror.apply(entries)
        if ops:
            self.last_emit = time.monotonic()
            self.emit_changes({"from": first, "to": ops[-1]["seq"], "ops": ops})
