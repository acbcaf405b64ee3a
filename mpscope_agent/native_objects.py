"""The program's own multiprocessing objects other than locks, as this process sees them.

A Queue, a Pipe's ends, a Value or a shared memory block is shared between processes, but
each process knows only its part (what it put and got, which ends it holds). Each kind's
hook (``native_queues``, ``native_pipes``, ...) calls :func:`remember` for an object the
program made or received, with a function that reads this process's *facts* about it; the
wait sampler calls :func:`sample` at most twice a second and sends what changed in its
``native`` message (``objects``: new ones, ``facts``: ``{oid: facts}``). The dashboard
merges every process's facts into the object's value (``webapp/native/``). Nothing here
wraps a call on the program's hot path; a kind's hook may count in C-cheap ways.
"""

from __future__ import annotations

import os
import weakref

from .bound_names import bound_name
from .stacks import frame_kind, source_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

# id(obj) -> (weak ref, oid, kind, label, facts(obj) -> dict); dropped once the object dies
_known: dict[int, tuple] = {}
_announced: set[str] = set()  # oids this process told the dashboard about
_sent: dict[str, dict] = {}  # oid -> the facts last sent from this process
MAX_FACTS_PER_SAMPLE = 200  # objects whose facts one sample sends (the rest wait their turn)
# objects followed in one process: each sample looks at every one (a program that keeps a
# million Values alive would otherwise pay for it twice a second); more are not followed
# until some die (their entries go at the next sample)
MAX_FOLLOWED = 10_000


MP_DIR = os.path.join(os.path.dirname(os.__file__), "multiprocessing")
# what sends a last sample when this process ends (set by the wait sampler): a child that
# ends before the first sample still tells what it put, got or held
at_exit: list = []
_exit_hook = [False]
exiting = [False]  # True during that last sample: a kind reads what it reads only while watched


def remember(obj, oid: str, kind: str, label: str | None, facts) -> None:
    """Follow ``obj`` (held weakly): ``label`` None if it was sent here (its maker named it)."""
    if len(_known) >= MAX_FOLLOWED and id(obj) not in _known:
        return
    try:
        ref = weakref.ref(obj)
    except TypeError:
        return
    _known[id(obj)] = (ref, oid, kind, label, facts)
    if not _exit_hook[0]:
        _exit_hook[0] = True
        _register_exit_sample()


def _register_exit_sample() -> None:
    import sys

    threading = sys.modules.get("threading")
    try:  # threading's exit hook runs at the main process's exit and in every mp child's
        threading._register_atexit(_last_sample)
    except Exception:  # no threading, or shutting down already: the sampler's last look stands
        pass


def _last_sample() -> None:
    exiting[0] = True
    for send in at_exit:
        try:
            send()
        except Exception:
            pass


def drop_own_frame(error: BaseException) -> None:
    """Take the calling wrapper's own frame off ``error``'s traceback, before the wrapper
    re-raises it with a bare ``raise`` (which adds no frame): an uncaught ``queue.Empty`` or
    ``EOFError`` then prints as under plain python. Python 3.11+; 3.9 and 3.10 re-raise the
    traceback as it was caught (one frame of mpscope's more, as docs/run.md says)."""
    import sys

    tb = error.__traceback__
    if tb is not None and tb.tb_next is not None and tb.tb_frame is sys._getframe(1):
        error.__traceback__ = tb.tb_next


def oid_of(obj) -> str | None:
    """The id every process knows ``obj`` by, if it is one of the program's followed objects."""
    entry = _known.get(id(obj))
    return entry[1] if entry is not None and entry[0]() is obj else None


def live(
    known: dict[int, tuple], announced: set[str], new: list[dict], last_as: str | None = None
) -> Iterator[tuple]:
    """Each object of the table ``known`` still alive, as ``(obj, oid, last)`` (``last``: its
    entry's fifth field). A dead object's entry is dropped; a live one this process has not
    announced and whose maker named it is added to ``new`` (with ``last`` as ``last_as``)."""
    for key, (ref, oid, kind, label, last) in list(known.items()):
        obj = ref()
        if obj is None:
            del known[key]
            continue
        if oid not in announced and label is not None:
            announced.add(oid)
            new.append({"oid": oid, "kind": kind, "label": label})
            if last_as is not None:
                new[-1][last_as] = last
        yield obj, oid, last


def sample() -> tuple[list[dict], dict[str, dict]]:
    """``(new, facts)``: objects not announced yet, and this process's facts that changed."""
    new, changed = [], {}
    # the last look, at exit, tells every object's last facts (few per look before, in turns)
    limit = MAX_FOLLOWED if exiting[0] else MAX_FACTS_PER_SAMPLE
    for obj, oid, facts in live(_known, _announced, new):
        if len(changed) >= limit:
            continue
        try:
            now = facts(obj)
        except Exception:  # never raised into the program: an object mid-close is read next time
            continue
        if now is not None and _sent.get(oid) != now:
            _sent[oid] = now
            changed[oid] = now
    return new, changed


def after_fork_in_child() -> None:
    """A forked child starts with its parent's objects but has told the dashboard nothing, and
    threading's exit hooks of the parent are not its own."""
    _sent.clear()
    _exit_hook[0] = False
    exiting[0] = False
    if _known:
        _exit_hook[0] = True
        _register_exit_sample()


def program_label(frame, fallback: str) -> str | None:
    """``q = mp.Queue()  · prog.py:7`` for the program's ``frame`` making an object; None if
    ``frame`` is not the program's own code (a library made it for its own use)."""
    if frame is None or frame_kind(frame.f_code.co_filename) != "program":
        return None
    line = source_line(frame.f_code.co_filename, frame.f_lineno)
    try:
        made = bound_name(frame, line) or line or fallback
    except Exception:  # never raised into the program: the line is label enough
        made = line or fallback
    return f"{made}  · {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def caller_outside_multiprocessing(frame):
    """The first frame from ``frame`` outwards that is not multiprocessing's own code (its
    ``context.py`` factory, a class's ``__init__``): the code that asked for the object."""
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == MP_DIR:
        frame = frame.f_back
    return frame
