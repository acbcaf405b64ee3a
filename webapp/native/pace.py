"""NativePace: tells each process of the program whether a page is open, so it samples values.

A process's agent reads the program's Values, Arrays and ShareableLists (their items,
not just their size) only while a page is open; otherwise its last reading stands and
nothing is sent. Like a Manager's journal pace (``webapp/journals.py``), the dashboard
tells it with ``pace`` — when the process first says something about its objects, when a
message shows it was told otherwise, and to every process told "unwatched" as soon as a
page reads the state (a page joining, which reads the mirror first). A Manager's process is
left to ManagerJournals, which tells it the same (its journal sender and the agent's
``watched`` both follow that one ``pace``; the dashboard's own Manager is always told "watched").
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mpscope_agent import protocol


class NativePace:
    """What each process that has native objects was last told: watched or not."""

    def __init__(
        self,
        send: Callable[[int, dict], bool],
        watching: Callable[[], bool],
        is_manager: Callable[[int], bool] = lambda pid: False,
    ) -> None:
        self.send = send
        self.watching = watching
        self.is_manager = is_manager
        self.told: dict[int, bool] = {}  # PID -> watched, as last told
        self.lock = threading.Lock()

    def heard(self, pid: int) -> None:
        """``pid`` sent a ``native`` message: tell it the pace if it does not know it yet."""
        if self.is_manager(pid):
            return
        watched = self.watching()
        with self.lock:
            if self.told.get(pid) is watched:
                return
            self.told[pid] = watched
        self.send(pid, {"t": protocol.PACE, "watched": watched})

    def catch_up(self) -> None:
        """A page reads the state: every process told nobody watched samples again, now."""
        if not self.watching():
            return
        with self.lock:
            slow = [pid for pid, watched in self.told.items() if not watched]
            for pid in slow:
                self.told[pid] = True
        for pid in slow:
            self.send(pid, {"t": protocol.PACE, "watched": True})

    def ended(self, pids: set[int]) -> None:
        with self.lock:
            for pid in pids:
                self.told.pop(pid, None)
