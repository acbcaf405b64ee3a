"""multiprocessing's shared ctypes objects (mp.Value, Array, RawValue, RawArray), as this process sees them.

Patched when the program imports ``multiprocessing.sharedctypes``: the four factories are
wrapped, and so is ``rebuild_ctype``, which a child that receives one by pickling (spawn,
forkserver) calls to map it. Nothing of a value's use is wrapped: ``v.value += 1`` costs
what it costs without mpscope. Each object is remembered (``native_objects``) with its
shared heap location as its id — the arena file's device and inode, and the offset in
it — which a forked child inherits and a spawned one receives by descriptor: the same
in every process.

Its value is read by the wait sampler (at most twice a second) only while a page is open
(``pace``: the channel's ``watched``) and once more at exit; otherwise the last reading
stands. It is read from the raw ctypes object, never through the Value's lock: a torn
read of a value being written is possible and harmless, a sampler stuck behind the
program's lock (or holding it) is not.
"""

from __future__ import annotations

import functools
import os
import sys
import time

from . import native_objects

MAX_ITEMS = 1000  # of an Array's items sent: its length is said beside them
MAX_REPR = 80
_channel = [None]  # this process's channel to the dashboard: it knows whether a page is open
FACTORIES = ("Value", "Array", "RawValue", "RawArray")
# (code, instruction) -> label: a loop making 10,000 Values reads its line once, not each time
_labels: dict[tuple, str | None] = {}
MAX_LABELS = 1000


def watched() -> bool:
    """Whether a page is open (the dashboard's last ``pace``), or this process is ending."""
    return bool(getattr(_channel[0], "watched", False)) or native_objects.exiting[0]


def patch_sharedctypes(module, channel) -> None:
    """Remember the Values and Arrays the program makes or receives (never raised into it)."""
    _channel[0] = channel
    for name in FACTORIES:
        setattr(module, name, _factory(module, name, getattr(module, name)))
    rebuild = module.rebuild_ctype
    inner = module._new_value.__code__  # the factories' own call: remembered by the factory

    @functools.wraps(rebuild)  # pickled by name: it must stay multiprocessing.sharedctypes.rebuild_ctype
    def remembering_rebuild(type_, wrapper, length):
        obj = rebuild(type_, wrapper, length)
        if sys._getframe(1).f_code is not inner:
            _remember(obj, None, None)  # sent to this process: its maker named it
        return obj

    module.rebuild_ctype = remembering_rebuild


def _factory(module, name: str, make):
    raw = name.startswith("Raw")
    own_file = module.__file__

    @functools.wraps(make)
    def remembering(*args, **kwargs):
        try:
            obj = make(*args, **kwargs)
        except BaseException as error:  # a bad typecode...: raised as without us (no frame of ours)
            native_objects.drop_own_frame(error)
            raise
        caller = sys._getframe(1)
        if caller.f_code.co_filename != own_file:  # not Value's own RawValue: the program's call
            try:
                frame = native_objects.caller_outside_multiprocessing(caller)
                label = _label(frame, name)
                if label is not None:
                    _remember(getattr(obj, "_obj", obj), label, raw)
            except Exception:  # never raised into the program: the object is just not shown
                pass
        return obj

    return remembering


def _label(frame, name: str) -> str | None:
    if frame is None:
        return None
    key = (frame.f_code, frame.f_lasti)
    if key not in _labels:
        if len(_labels) >= MAX_LABELS:
            _labels.clear()
        _labels[key] = native_objects.program_label(frame, f"mp.{name}()")
    return _labels[key]


def _remember(obj, label: str | None, raw: bool | None) -> None:
    try:
        (arena, start, _stop), _size = obj._wrapper._state
        stat = os.fstat(arena.fd)
    except (AttributeError, OSError, TypeError, ValueError):
        return  # not a heap block this process can name (Windows' arenas have no fd)
    oid = f"native-v{stat.st_dev:x}-{stat.st_ino:x}-{start:x}"
    array = hasattr(type(obj), "_length_")
    item = type(obj)._type_ if array else type(obj)
    typecode = getattr(item, "_type_", None)
    static = {"typecode": typecode if isinstance(typecode, str) else item.__name__}
    if raw is not None:
        static["raw"] = raw  # only the maker knows whether it was wrapped in a lock
    if array:
        static["length"] = len(obj)
    kind = "Array" if array else "Value"
    read: list = []  # [(what was read last, the facts made of it)]: this object's own
    native_objects.remember(obj, oid, kind, label, lambda o: _facts(o, static, array, read))


def _facts(obj, static: dict, array: bool, read: list) -> dict:
    """This process's reading of the object, fresh while a page is open, else the last one."""
    if read and not watched():
        return read[0][1]
    now = _items(obj) if array else {"value": _plain(obj.value if hasattr(obj, "value") else obj)}
    if read and read[0][0] == now:
        return read[0][1]
    facts = {**static, **now, "at": time.time()}  # when this process saw it change: the freshest wins
    read[:] = [(now, facts)]
    return facts


def _items(obj) -> dict:
    head = obj[:MAX_ITEMS]  # one copy out of the shared block, no lock
    if isinstance(head, (bytes, str)):  # a char array: its items as ints/chars, and as text
        text = obj.value if isinstance(head, str) else bytes(head).split(b"\0", 1)[0]
        return {"items": [_plain(c) for c in head], "text": _short(text)}
    return {"items": [_plain(v) for v in head]}


def _plain(value):
    """JSON-ready: numbers and bools as they are, bytes and anything else as a short repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, str) or len(value) <= MAX_REPR else value[:MAX_REPR]
    if isinstance(value, bytes):
        return {"$type": "bytes", "repr": _short(value)}
    fields = getattr(type(value), "_fields_", None)
    if fields:  # a ctypes Structure: its fields, as Point(x=1, y=2)
        shown = ", ".join(f"{f[0]}={getattr(value, f[0], '?')!r}" for f in fields[:10])
        return {"$type": type(value).__name__, "repr": _short_text(f"{type(value).__name__}({shown})")}
    return {"$type": type(value).__name__, "repr": _short(value)}


def _short(value) -> str:
    try:
        text = repr(value)
    except Exception:
        return "?"
    return _short_text(text)


def _short_text(text: str) -> str:
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 1] + "…"
