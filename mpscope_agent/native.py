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
        made = _which(frame, line) or line or f"mp.{factory}()"
    except Exception:  # never raised into the program: the line is label enough
        made = line or f"mp.{factory}()"
    return f"{made}  · {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _which(frame, line: str) -> str | None:
    """``b = mp.Lock()`` for the second call of ``a, b = mp.Lock(), mp.Lock()``: the call being
    made (the column of the frame's current instruction, Python 3.11+; before, which of the
    line's calls it is) and the name it is bound to."""
    # the columns count from the line's start; a trailing comment is no part of a value
    whole = source_line(frame.f_code.co_filename, frame.f_lineno, strip=False).split("  #")[0].rstrip()
    if "=" not in whole:
        return None
    targets, _, values = whole.partition("=")
    names = [t.strip() for t in targets.split(",")]
    calls, columns, at = [], [], len(targets) + 1  # each value and the column it starts at
    for part in _split_top(values):
        calls.append(part.strip())
        columns.append(at + len(part) - len(part.lstrip()))
        at += len(part) + 1
    if len(calls) == 1:
        return None  # the whole line says it
    if getattr(frame.f_code, "co_positions", None) is not None:
        index = _by_column(frame, whole, calls, columns)
    else:
        index = _by_call_order(frame, len(calls))
    if index is None or len(names) != len(calls) or not names[index].isidentifier():
        return None
    return f"{names[index]} = {calls[index]}"


def _by_column(frame, whole: str, calls: list[str], columns: list[int]) -> int | None:
    """Which of ``calls`` the frame's current instruction is, by its column (Python 3.11+)."""
    try:
        lineno, _end, col, end_col = list(frame.f_code.co_positions())[frame.f_lasti // 2]
    except (IndexError, ValueError):
        return None
    if lineno != frame.f_lineno or col is None or end_col is None:
        return None
    call = whole[col:end_col]
    return next((i for i, v in enumerate(calls) if v == call and columns[i] == col), None)


def _by_call_order(frame, values: int) -> int | None:
    """Which of a line's ``values`` calls the frame's current one is, counting the calls its
    bytecode makes on that line (Python 3.9, 3.10: no columns); None if the line makes more
    calls than it has values (a call among the arguments)."""
    import dis

    code, lasti = frame.f_code, frame.f_lasti
    starts = sorted(dis.findlinestarts(code))
    begin = max((offset for offset, _ in starts if offset <= lasti), default=0)
    end = min((offset for offset, _ in starts if offset > lasti), default=len(code.co_code))
    calls = [
        i.offset
        for i in dis.get_instructions(code)
        if begin <= i.offset < end and i.opname.startswith("CALL")
    ]
    return calls.index(lasti) if len(calls) == values and lasti in calls else None


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
