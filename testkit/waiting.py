"""Waiting for a condition with a deadline, and whether a process still runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil

FIRST_INTERVAL = 0.005
LONGEST_INTERVAL = 0.05


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "condition",
    interval: float | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``.

    Without ``interval`` polling starts at 5 ms and backs off to 50 ms, so a quick condition
    is seen at once and a slow one costs the server little; a benchmark that must not load
    the server passes its own fixed ``interval``.

    :raise AssertionError: if ``predicate`` stays falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    pause = FIRST_INTERVAL if interval is None else interval
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        if interval is None:
            pause = min(pause * 2, LONGEST_INTERVAL)


def is_alive(process: psutil.Process) -> bool:
    """True while ``process`` (that very process, not a PID reuse) runs; zombies count as ended."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
