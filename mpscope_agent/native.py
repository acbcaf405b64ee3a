"""multiprocessing's own locks (mp.Lock, RLock, Semaphore, BoundedSemaphore), as this process holds them.

Patched when the program imports ``multiprocessing.synchronize``: each lock the program
makes itself (``a = mp.Lock()``; not the ones a Queue, Condition or Event makes for its
own use) is remembered, weakly, with the line that made it. No call of a lock is wrapped:
``with lock:`` costs what it costs without mpscope. Who holds one is read at sample time
(``holdings``, from the wait sampler) from the lock's own count in this process, which
``acquire`` and ``release`` keep in C; who waits for one is what the sampler sees its
process wait in. A lock is known across processes by its semaphore's name (spawn,
forkserver) or handle (fork: a child shares its parent's).
"""

from __future__ import annotations

import os
import sys
import weakref

from .bound_names import bound_name
from .native_objects import live
from .stacks import frame_kind, source_line

KINDS = ("Lock", "RLock", "Semaphore", "BoundedSemaphore")
FACTORIES = set(KINDS)  # context.py's functions that make one for the program

_known: dict[int, tuple] = {}  # id(lock) -> (weak ref, oid, kind, label, initial)
# locks followed in one process: each sample reads every one's count (a program that keeps a
# million locks alive would otherwise pay for it twice a second); more are not followed until
# some die (their entries go at the next sample)
MAX_FOLLOWED = 10_000
_announced: set[str] = set()  # oids this process has told the dashboard about


def patch_synchronize(module) -> None:
    """Remember the locks the program makes (``SemLock.__init__``) or receives (``__setstate__``)."""
    init, setstate = module.SemLock.__init__, module.SemLock.__setstate__

    def remembering_init(self, kind, value, maxvalue, *, ctx):
        init(self, kind, value, maxvalue, ctx=ctx)
        if type(self).__name__ in KINDS:
            label = _made_by_program(sys._getframe(1))
            if label is not None:
                _remember(self, label, value)

    def remembering_setstate(self, state):
        setstate(self, state)
        if type(self).__name__ in KINDS:
            _remember(self, None, None)  # sent to this process; its maker named it

    module.SemLock.__init__ = remembering_init
    module.SemLock.__setstate__ = remembering_setstate


def release(request: dict) -> None:
    """The dashboard's Release of a lock whose holder died: any process that has a semaphore may
    post it (never raised into the program: a lock freed meanwhile refuses, and that is all)."""
    for ref, oid, _kind, _label, _initial in list(_known.values()):
        lock = ref()
        if lock is not None and oid == request.get("oid"):
            try:
                lock._semlock.release()
            except (ValueError, AssertionError, OSError):
                pass
            return


def oid_of(lock) -> str | None:
    """The id every process knows ``lock`` by, if it is one of the program's."""
    entry = _known.get(id(lock))
    return entry[1] if entry is not None and entry[0]() is lock else None


def holdings() -> tuple[list[dict], dict[str, int]]:
    """``(new, held)``: the locks not announced yet, and ``{oid: depth}`` of those this process holds."""
    new, held = [], {}
    for lock, oid, _initial in live(_known, _announced, new, last_as="initial"):
        try:
            depth = lock._semlock._count()
        except (AttributeError, OSError):
            continue
        if depth > 0:
            held[oid] = depth
    return new, held


def _remember(lock, label: str | None, initial) -> None:
    if len(_known) >= MAX_FOLLOWED and id(lock) not in _known:
        return
    semlock = lock._semlock
    oid = "native-" + (semlock.name.lstrip("/") if semlock.name else f"h{semlock.handle:x}")
    if initial is None:
        initial = semlock.maxvalue if semlock.maxvalue < 2**31 - 1 else 1
    _known[id(lock)] = (weakref.ref(lock), oid, type(lock).__name__, label, initial)


def _made_by_program(frame) -> str | None:
    """``a = mp.Lock()  · prog.py:7`` if the program made this lock itself, else None.

    From the lock's own ``__init__``s out: a factory of ``multiprocessing.context``, then
    the program's line. Anything else between (a Queue's, a Condition's) makes it theirs.
    """
    while (
        frame is not None
        and frame.f_code.co_name == "__init__"
        and frame.f_code.co_filename.endswith(os.sep + "synchronize.py")
    ):
        frame = frame.f_back
    if frame is None or not frame.f_code.co_filename.endswith(os.sep + "context.py"):
        return None
    factory = frame.f_code.co_name
    if factory not in FACTORIES:
        return None
    frame = frame.f_back
    if frame is None or frame_kind(frame.f_code.co_filename) != "program":
        return None
    line = source_line(frame.f_code.co_filename, frame.f_lineno)
    try:
        made = bound_name(frame, line) or line or f"mp.{factory}()"
    except Exception:  # never raised into the program: the line is label enough
        made = line or f"mp.{factory}()"
    return f"{made}  · {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
