"""multiprocessing's own Barrier and Event, as this process sees them (``native_objects``).

Patched when the program imports ``multiprocessing.synchronize``: each Barrier or Event
the program makes (``gate = mp.Barrier(3)``), or receives from its parent, is followed.
Their state is read from shared memory without their lock (a Barrier's state and count
live in a shared array, an Event's flag is a semaphore's value), so the sampler never
waits on the program. Who waits at one comes from the waits (``waits.py`` names the
object a process waits on); a Barrier's passes are counted where its ``wait()`` returns.
"""

from __future__ import annotations

import functools
import sys

from . import native_objects

KINDS = ("Barrier", "Event")
_passes: dict[int, int] = {}  # id(barrier) -> how often its wait() returned in this process


def patch(module) -> None:
    """Follow the Barriers and Events of ``multiprocessing.synchronize``."""
    for cls in (module.Barrier, module.Event):
        _patch_class(cls)
    original = module.Barrier.wait

    @functools.wraps(original)
    def wait(self, timeout=None):  # named as the original: the wait sampler reads "wait()"
        try:
            index = original(self, timeout)
        except BaseException as error:  # BrokenBarrierError: raised as without us (no frame of ours)
            native_objects.drop_own_frame(error)
            raise
        _passes[id(self)] = _passes.get(id(self), 0) + 1
        return index

    module.Barrier.wait = wait


def _patch_class(cls) -> None:
    init, kind = cls.__init__, cls.__name__
    # an Event is pickled as its __dict__ (no __setstate__ of its own): one that sets it back
    setstate = cls.__dict__.get("__setstate__") or (lambda self, state: self.__dict__.update(state))

    @functools.wraps(init)
    def following_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        frame = native_objects.caller_outside_multiprocessing(sys._getframe(1))
        label = native_objects.program_label(frame, f"mp.{kind}()")
        if label is not None:
            _follow(self, kind, label)

    cls.__init__ = following_init

    def following_setstate(self, state):
        setstate(self, state)
        _follow(self, kind, None)  # sent to this process; its maker named it

    cls.__setstate__ = following_setstate


def _follow(obj, kind: str, label: str | None) -> None:
    try:  # the same in every process: the semaphore of its lock (Barrier) or flag (Event)
        semlock = obj._cond._lock._semlock if kind == "Barrier" else obj._flag._semlock
    except AttributeError:
        return
    oid = "native-" + (semlock.name.lstrip("/") if semlock.name else f"h{semlock.handle:x}")
    native_objects.remember(obj, oid, kind, label, _barrier_facts if kind == "Barrier" else _event_facts)


def _barrier_facts(barrier) -> dict:
    state = barrier._array[0]  # threading.Barrier's _state: 0 filling, 1 draining, -1 resetting, -2 broken
    return {"parties": barrier._parties, "broken": state == -2, "passes": _passes.get(id(barrier), 0)}


def _event_facts(event) -> dict:
    return {"set": event._flag._semlock._get_value() > 0}
