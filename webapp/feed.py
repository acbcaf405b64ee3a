"""ChangeFeed: the one server thread that turns journal entries into ``changes`` events.

It blocks in the Manager waiting for new journal entries, replays them into the
mirror and broadcasts them as one versioned batch. An idle feed sends each change at
once; a steady trickle is sent at most every 4 ms; a busy feed (over ~8,000 changes/s)
coalesces what arrives within one 16 ms frame into one message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .state import MANAGER_LOST, SharedState

logger = logging.getLogger(__name__)

FRAME = 0.016  # a busy feed sends at most one message per frame
# Below that, at most one message per MIN_GAP: coalescing a trickle (1,000 changes/s) per
# 16 ms frame made its median latency ~10 ms; with 4 ms it is ~3 ms (make bench: latency.1k).
MIN_GAP = 0.004
BUSY_RATE = 8000  # changes/s above which the feed counts as busy and uses whole frames


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
        self.busy = False
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
        wait = self.last_emit + (FRAME if self.busy else MIN_GAP) - time.monotonic()
        if wait > 0:
            # Sent one very recently: let this gap's changes gather, then take them in one
            # read. (Reading first and again after the sleep cost two Manager round trips
            # per message: ~20 µs of server + Manager CPU per change at 1,000/s.)
            time.sleep(wait)
        status, entries = journal.read(mirror.version, 1.0)
        if status == "overflow":
            mirror.load(*journal.snapshot())
            self.resync_all()
            return
        if not entries:
            return
        first = mirror.version
        ops = mirror.apply(entries)
        if ops:
            now = time.monotonic()
            self.busy = len(ops) >= BUSY_RATE * (now - self.last_emit)
            self.last_emit = now
            self.emit_changes({"from": first, "to": ops[-1]["seq"], "ops": ops})
