"""multiprocessing's own Condition, as this process sees it (``native_objects``).

Patched when the program imports ``multiprocessing.synchronize``: each Condition the
program makes (``cond = mp.Condition()``), or receives from its parent, is followed. No
call of it is wrapped. Whether this process holds its lock, and how deep, is read at
sample time from the lock's own count in this process (as ``native`` reads a lock's):
``wait()`` releases the lock, so a process in ``wait()`` does not hold it. Who waits, in
``wait()`` or to acquire it, comes from the waits (``waits.py`` names the Condition).
"""

from __future__ import annotations

import functools
import sys
import time

from . import native_objects

KIND = "Condition"
_since: dict[int, float] = {}  # id(condition) -> when this process was first seen holding its lock


def patch(module) -> None:
    """Follow the Conditions of ``multiprocessing.synchronize``."""
    cls = module.Condition
    init, setstate = cls.__init__, cls.__setstate__

    @functools.wraps(init)
    def following_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        # the program's own: made by its line through context.py's factory (or the class);
        # not one an Event or a Barrier makes for itself (their __init__ is multiprocessing's)
        frame = sys._getframe(1)
        if frame.f_code.co_name == "Condition" and frame.f_code.co_filename.endswith("context.py"):
            frame = frame.f_back
        label = native_objects.program_label(frame, "mp.Condition()")
        if label is not None:
            _follow(self, label)

    @functools.wraps(setstate)
    def following_setstate(self, state):
        setstate(self, state)
        _follow(self, None)  # sent to this process; its maker named it

    cls.__init__ = following_init
    cls.__setstate__ = following_setstate


def _follow(cond, label: str | None) -> None:
    # the same in every process: the name of its own wait semaphore (not its lock's, which
    # may be one of the program's locks, followed under its own name)
    try:
        semlock = cond._wait_semaphore._semlock
    except AttributeError:
        return
    oid = "native-" + (semlock.name.lstrip("/") if semlock.name else f"h{semlock.handle:x}")
    native_objects.remember(cond, oid, KIND, label, _facts)


def _facts(cond) -> dict:
    """``depth`` of this process's hold on the lock (0: not held), ``since`` when first seen held."""
    depth = cond._lock._semlock._count()
    key = id(cond)
    if depth <= 0:
        _since.pop(key, None)
        return {"depth": 0}
    since = _since.setdefault(key, round(time.time(), 3))
    if len(_since) > 1_000:  # ids of Conditions long gone: the live ones are set again next look
        _since.clear()
        _since[key] = since
    return {"depth": depth, "since": since}
