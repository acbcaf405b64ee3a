"""multiprocessing.shared_memory blocks (SharedMemory, ShareableList), as this process maps them.

Patched when the program imports ``multiprocessing.shared_memory``: ``SharedMemory.__init__``
and ``ShareableList.__init__`` are wrapped — they run when the program creates or attaches
to a block, when a SharedMemoryManager makes one for it, and when a child unpickles one
(both pickle as a call by name). Nothing of a block's use is wrapped. A block is known in
every process by its name (``native-shm-NAME``); each process says whether it has it open
(mapped: not ``close()``d here), whether its name is gone from ``/dev/shm`` (unlinked),
and for a ShareableList its first items as short reprs — read, without a lock, only
while a page is open and once more at exit (``native_values.watched``).
"""

from __future__ import annotations

import functools
import os
import sys
import time

from . import native_objects
from .native_values import MAX_REPR, _short, watched

MAX_ITEMS = 100  # of a ShareableList's items sent: its length is said beside them
SHM_DIR = "/dev/shm"


def patch_shared_memory(module) -> None:
    """Remember the blocks the program makes, attaches to or receives (never raised into it)."""
    shm_init, list_init = module.SharedMemory.__init__, module.ShareableList.__init__
    own_file = module.__file__

    @functools.wraps(shm_init)  # inspect.signature() still reads the original's
    def remembering_shm_init(self, *args, **kwargs):
        try:
            shm_init(self, *args, **kwargs)
        except BaseException as error:  # FileNotFoundError...: raised as without us (no frame of ours)
            native_objects.drop_own_frame(error)
            raise
        caller = sys._getframe(1)
        if caller.f_code.co_filename != own_file:  # a ShareableList's block is the list's
            _remember(self, caller, "SharedMemory")

    @functools.wraps(list_init)
    def remembering_list_init(self, *args, **kwargs):
        try:
            list_init(self, *args, **kwargs)
        except BaseException as error:
            native_objects.drop_own_frame(error)
            raise
        _remember(self, sys._getframe(1), "ShareableList")

    module.SharedMemory.__init__ = remembering_shm_init
    module.ShareableList.__init__ = remembering_list_init


def _remember(obj, caller, kind: str) -> None:
    try:
        shm = obj.shm if kind == "ShareableList" else obj
        name = shm.name
        frame = native_objects.caller_outside_multiprocessing(caller)
        # a child unpickling it is not the program's line: None, its maker named it
        label = native_objects.program_label(frame, f"shared_memory.{kind}()")
        static = {"name": name, "size": shm.size}
        if _by_manager(caller):
            static["manager"] = True
        if kind == "ShareableList":
            read: list = []  # [(the items read last, when they changed)]: this list's own
            facts = lambda o: _list_facts(o, static, read)  # noqa: E731
        else:
            facts = lambda o: _shm_facts(o, static)  # noqa: E731
        native_objects.remember(obj, f"native-shm-{name}", kind, label, facts)
    except Exception:  # never raised into the program: the block is just not shown
        pass


def _by_manager(frame) -> bool:
    """Made by a SharedMemoryManager's ``SharedMemory``/``ShareableList`` (it unlinks it at shutdown)."""
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == native_objects.MP_DIR:
        if frame.f_code.co_filename.endswith("managers.py"):
            return True
        frame = frame.f_back
    return False


def _shm_facts(shm, static: dict) -> dict:
    facts = {**static, "open": shm._buf is not None}
    if os.path.isdir(SHM_DIR):  # Linux: a block's name is a file there until it is unlinked
        facts["unlinked"] = not os.path.exists(os.path.join(SHM_DIR, static["name"].lstrip("/")))
    return facts


def _list_facts(sl, static: dict, read: list) -> dict:
    facts = _shm_facts(sl.shm, static)
    if facts["open"] and (not read or watched()):
        items = _items(sl)
        if not read or items != read[0][0]:
            read[:] = [(items, time.time())]  # when this process saw them change: the freshest wins
    if read:
        facts.update(items=read[0][0], length=sl._list_len, at=read[0][1])
    return facts


def _items(sl) -> list[str]:
    """The first items as short reprs, read from the block without a lock (one torn item reads
    as what it holds, or ``?``)."""
    out = []
    for i in range(min(sl._list_len, MAX_ITEMS)):
        try:
            out.append(_short(sl[i])[:MAX_REPR])
        except Exception:
            out.append("?")
    return out
