"""lower_priority(): the dashboard's threads that work per op of the program yield the cores to it."""

from __future__ import annotations

import os
import threading

NICE = 10  # the niceness of such a thread


def lower_priority() -> None:
    """Run the calling thread at a lower CPU priority than the program (this thread only: the
    program is started from another), so that it yields the cores to the program when both
    want them; watching slows the program less, and the page catches up after."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except OSError:
        pass
