"""The dashboard process's cyclic garbage collector, set for a server that makes many small
objects a second while it holds a large heap that lives as long as it does.

Every parsed message, op and task event is a handful of small containers, so CPython's
default young-generation threshold (700 allocations) runs a young collection every few
hundred microseconds under load, and every hundredth of those a full one, which walks
every tracked object: the imported modules, Flask, psutil, the mirror's replicas. A
watched program running 100,000 Pool tasks with callbacks made the dashboard spend 0.24–0.5 s
of its ~1.8 s of CPU in 9–10 full collections (measured with ``gc.callbacks``).

So, once the app is built: what start-up made is collected once and frozen (``gc.freeze``:
never walked again; it lives as long as the process anyway), and the young generation
holds more before it is collected. Garbage without cycles is freed at once as always
(reference counting); only cyclic garbage waits a little longer.
"""

from __future__ import annotations

import gc

YOUNG = 10_000  # allocations between two young collections (CPython's default: 700)


def settle_after_start_up() -> None:
    """Collect and freeze what start-up made; let the young generation grow to ``YOUNG``."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
