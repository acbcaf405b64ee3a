"""multiprocessing's own Queue, SimpleQueue and JoinableQueue, as this process uses them.

Patched when the program imports ``multiprocessing.queues``: each queue the program makes
(``q = mp.Queue()``) or receives (``__setstate__``: a queue passed to a child) is
remembered, weakly, with ``native_objects.remember``. ``put``, ``get``, ``task_done`` (and
``put_nowait``/``get_nowait``, which call them) are wrapped to add one to this process's
count on the object after the call succeeds, and ``put`` keeps a reference to the last
5 objects put: their short reprs are made at sample time (twice a second, on the sampler's
thread) and the references dropped then, never on the hot path. A queue is known across
processes by the inode of its pipe, which fork, spawn and forkserver all pass on.

A child whose own code returned but which waits at exit for its feeder thread to write
what it put (``_finalize_join``: the docs' "joining processes that use queues") is found
by the wait sampler, which asks :func:`flushing` which queue that feeder belongs to.
"""

from __future__ import annotations

import collections
import os
import reprlib
import sys
import time
import weakref

from . import native_objects

KINDS = ("Queue", "SimpleQueue", "JoinableQueue")
RECENT = 5  # objects put whose reprs are shown
MAX_REPR = 80
# a bytes, str... item longer than this is not kept until the next sample (a 1 GB item would
# stay alive up to half a second longer than without mpscope): its short repr is made at once
BIG = 4096
_BUFFERS = (bytes, bytearray, str, memoryview)


class _Shown:
    """The short repr of a big item put, made when it was put, in place of the item."""

    __slots__ = ("text",)

    def __init__(self, obj) -> None:
        self.text = short_repr(obj)


class Counts:
    """This process's counts on one queue (``done``: ``task_done()`` calls), and the objects
    put since the last sample, then their reprs (``shown``: [[time, repr], ...])."""

    __slots__ = ("put", "got", "done", "recent", "shown", "flush")

    def __init__(self) -> None:
        self.put = self.got = self.done = 0
        self.recent: collections.deque = collections.deque(maxlen=RECENT)
        self.shown: list = []
        self.flush: dict | None = None  # {"items", "bytes"} while this process's exit waits on it


_counts: dict[int, Counts] = {}  # id(queue) -> its counts (entries go with native_objects' weak refs)


def patch_queues(module) -> None:
    """Remember the program's queues and count their puts and gets in this process."""
    for cls in (module.Queue, module.JoinableQueue, module.SimpleQueue):
        _patch_class(cls)
    os.register_at_fork(after_in_child=_after_fork)


def _patch_class(cls) -> None:
    init, setstate = cls.__dict__["__init__"], cls.__dict__["__setstate__"]

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if type(self) is cls:  # JoinableQueue's __init__ calls Queue's: remembered once, as itself
            _remember(self, _made_by_program(sys._getframe(1), cls.__name__))

    def __setstate__(self, state):
        setstate(self, state)
        if type(self) is cls:
            _remember(self, None)  # sent to this process: its maker named it

    cls.__init__, cls.__setstate__ = __init__, __setstate__
    simple = cls.__name__ == "SimpleQueue"  # its put(obj) and get() take no block or timeout
    if "put" in cls.__dict__:  # JoinableQueue.put is its own, not Queue.put: each counted once
        cls.put = (_counting_simple_put if simple else _counting_put)(cls.__dict__["put"])
    if "get" in cls.__dict__:
        cls.get = (_counting_simple_get if simple else _counting_get)(cls.__dict__["get"])
    if "task_done" in cls.__dict__:
        cls.task_done = _counting_task_done(cls.__dict__["task_done"])


# The wrappers take the methods' own parameters (no *args to pack on each call), are named as
# the methods with ``self`` (the wait sampler reads the call and its queue from the frame),
# and count only once the call succeeded (a put on a full queue that times out put nothing).
def _counting_put(original):
    def put(self, obj, block=True, timeout=None):
        try:
            original(self, obj, block, timeout)
        except BaseException as error:  # queue.Full, or a bad argument: raised as without us
            native_objects.drop_own_frame(error)
            raise
        counts = _counts.get(id(self))
        if counts is not None:
            counts.put += 1
            counts.recent.append(_Shown(obj) if type(obj) in _BUFFERS and len(obj) > BIG else obj)

    return put


def _counting_simple_put(original):
    def put(self, obj):
        try:
            original(self, obj)
        except BaseException as error:
            native_objects.drop_own_frame(error)
            raise
        counts = _counts.get(id(self))
        if counts is not None:
            counts.put += 1
            counts.recent.append(_Shown(obj) if type(obj) in _BUFFERS and len(obj) > BIG else obj)

    return put


def _counting_get(original):
    def get(self, block=True, timeout=None):
        try:
            item = original(self, block, timeout)
        except BaseException as error:  # queue.Empty (get_nowait), EOFError...: raised as without us
            native_objects.drop_own_frame(error)
            raise
        counts = _counts.get(id(self))
        if counts is not None:
            counts.got += 1
        return item

    return get


def _counting_simple_get(original):
    def get(self):
        try:
            item = original(self)
        except BaseException as error:
            native_objects.drop_own_frame(error)
            raise
        counts = _counts.get(id(self))
        if counts is not None:
            counts.got += 1
        return item

    return get


def _counting_task_done(original):
    def task_done(self):
        try:
            original(self)
        except BaseException as error:  # "task_done() called too many times"
            native_objects.drop_own_frame(error)
            raise
        counts = _counts.get(id(self))
        if counts is not None:
            counts.done += 1

    return task_done


def _made_by_program(frame, kind: str) -> str | None:
    """``q = mp.Queue()  · prog.py:7`` if the program asked for this queue (through context.py's
    factory, or the class itself); None for one multiprocessing makes for its own use (a Pool's
    task and result queues, whose first frame outside multiprocessing is the program's Pool())."""
    if (
        frame is not None
        and frame.f_code.co_name == kind
        and os.path.basename(frame.f_code.co_filename) == "context.py"
    ):
        frame = frame.f_back
    return native_objects.program_label(frame, f"mp.{kind}()")


def _remember(queue, label: str | None) -> None:
    try:
        inode = os.fstat(queue._reader.fileno()).st_ino
    except (AttributeError, OSError, ValueError):  # its reader already closed here: not followed
        return
    _counts[id(queue)] = Counts()
    weakref.finalize(queue, _counts.pop, id(queue), None).atexit = False  # its id may be reused
    native_objects.remember(queue, f"native-queue-{inode}", type(queue).__name__, label, _facts)


def _after_fork() -> None:
    """A forked child has put and got nothing yet: its parent's counts are its parent's."""
    for counts in _counts.values():
        counts.put = counts.got = counts.done = 0
        counts.recent.clear()
        counts.shown = []
        counts.flush = None


def _facts(queue) -> dict:
    counts = _counts.get(id(queue))
    if counts is None:
        return {}
    now = round(time.time(), 3)
    fresh = []
    while True:  # popleft, one by one, as the program's thread may append meanwhile
        try:
            fresh.append(counts.recent.popleft())
        except IndexError:
            break
    if fresh:
        counts.shown = (counts.shown + [[now, short_repr(obj)] for obj in fresh])[-RECENT:]
        del fresh  # the objects put are not kept past this look
    facts = {"put": counts.put, "got": counts.got, "recent": counts.shown}
    if type(queue).__name__ == "JoinableQueue":
        facts["done"] = counts.done
    maxsize = getattr(queue, "_maxsize", 0)
    if maxsize and maxsize < 2**31 - 1:  # multiprocessing's "no limit" is SEM_VALUE_MAX
        facts["maxsize"] = maxsize
    if counts.flush is not None:
        facts["flushing"] = counts.flush
    return facts


class _Short(reprlib.Repr):
    """Short reprs that never call a program's own ``__repr__`` (it runs on the sampler's
    thread) and never build a big repr to cut it afterwards (a 1 GB bytes item)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict = 2, 4, 4, 3
        self.maxset = self.maxfrozenset = self.maxdeque = 4
        self.maxstring = self.maxother = MAX_REPR

    def repr_bytes(self, obj, level):
        return repr(obj[:MAX_REPR]) + ("…" if len(obj) > MAX_REPR else "")

    repr_bytearray = repr_bytes

    def repr_instance(self, obj, level):
        kind = type(obj)
        if kind.__module__ == "builtins":
            return super().repr_instance(obj, level)
        return f"<{kind.__name__} object>"


_short = _Short()


def short_repr(obj) -> str:
    """``obj``'s repr, at most 80 characters."""
    if type(obj) is _Shown:
        return obj.text
    try:
        text = _short.repr(obj)
    except Exception:  # never raised into the program
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 1] + "…"


def flushing(frame) -> tuple[str | None, str | None, int, int]:
    """For the main thread's ``frame`` in ``Queue._finalize_join``: ``(oid, name, items, bytes)``
    of the queue whose feeder it waits for (``items`` put and not yet written into
    its pipe, ``bytes`` of the one being written), also kept in that queue's next facts."""
    thread = frame.f_locals.get("twr")
    thread = thread() if callable(thread) else None
    for ref, oid, _kind, label, _facts in list(native_objects._known.values()):
        queue = ref()
        if queue is None or getattr(queue, "_thread", None) is not thread or thread is None:
            continue
        items, size = _pending(queue, thread)
        counts = _counts.get(id(queue))
        if counts is not None:
            counts.flush = {"items": items, "bytes": size}
        name = label.split(" = ", 1)[0] if label and " = " in label else None
        return oid, name if name and name.isidentifier() else None, items, size
    return None, None, 0, 0


def _pending(queue, thread) -> tuple[int, int]:
    sentinel = getattr(sys.modules.get("multiprocessing.queues"), "_sentinel", None)
    items = sum(1 for obj in list(getattr(queue, "_buffer", ())) if obj is not sentinel)
    size = 0
    feeder = sys._current_frames().get(thread.ident)
    while feeder is not None and feeder.f_code.co_name != "_feed":
        feeder = feeder.f_back
    if feeder is not None:
        obj = feeder.f_locals.get("obj")
        if isinstance(obj, (bytes, bytearray, memoryview)):  # pickled, being written into the pipe
            items, size = items + 1, len(obj)
    return items, size
