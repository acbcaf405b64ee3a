"""The list kind: a ``list`` whose every change is journalled with indexes already resolved."""

from __future__ import annotations

import json
import time
from functools import partial

from ..encoding import encode_list
from ..journal import PLAIN, caller
from .base import SEPARATORS, PieceReplica, json_arrays

_dumps = partial(json.dumps, separators=SEPARATORS)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedList(list):
    """Manager side. Behaves as a plain list (it calls list's own method first, so errors
    are list's own); journals each change so a reader can replay it without knowing the
    list's length. Changes that rewrite the whole list (sort, reverse, slices, ``*=``) are
    journalled as ``replace`` with the new contents.
    """

    def _raw(self) -> list:
        return list(self)

    def _record(self, op: str, *args: Any) -> None:
        self._journal.record(self._oid, op, args)

    def append(
        self, value: Any, /, *, _append=list.append, _plain=PLAIN, _caller=caller, _now=time.time, _type=type
    ) -> None:
        # journal.record() inlined, as ObservedDict.__setitem__ (the other hot op): see there
        journal = self._journal
        lock = journal.lock
        lock.acquire()
        try:
            _append(self, value)
            args = (value,) if _type(value) in _plain else journal.carried((value,))
            journal.version = version = journal.version + 1
            journal.entries.append((version, self._oid, "append", args, _caller.pid, _now()))
            if journal.waiting:
                journal.changed.notify_all()
        finally:
            lock.release()

    def extend(self, values: Any) -> None:
        with self._journal.lock:
            values = list(values)
            super().extend(values)
            self._record("extend", values)

    def __iadd__(self, values: Any) -> ObservedList:
        self.extend(values)
        return self

    def insert(self, index: Any, value: Any) -> None:
        with self._journal.lock:
            size = len(self)
            super().insert(index, value)  # raises as a list does (OverflowError for 10**20)
            index = index.__index__()
            self._record("insert", max(0, index + size) if index < 0 else min(index, size), value)

    def __setitem__(self, index: Any, value: Any) -> None:
        with self._journal.lock:
            super().__setitem__(index, value)
            if isinstance(index, slice):
                self._record("replace", list(self))
            else:
                index = index.__index__()
                self._record("set", index + len(self) if index < 0 else index, value)

    def __delitem__(self, index: Any) -> None:
        with self._journal.lock:
            size = len(self)
            super().__delitem__(index)
            if isinstance(index, slice):
                self._record("replace", list(self))
            else:
                index = index.__index__()
                self._record("del", index + size if index < 0 else index)

    def pop(self, index: Any = -1) -> Any:
        with self._journal.lock:
            size = len(self)
            value = super().pop(index)
            index = index.__index__()
            self._record("del", index + size if index < 0 else index)
            return value

    def remove(self, value: Any) -> None:
        with self._journal.lock:
            try:
                index = self.index(value)
            except ValueError:
                return super().remove(value)  # raises list.remove's own error
            super().__delitem__(index)
            self._record("del", index)

    def clear(self) -> None:
        with self._journal.lock:
            super().clear()
            self._record("clear")

    def sort(self, *args: Any, **kwargs: Any) -> None:
        with self._journal.lock:
            try:
                super().sort(*args, **kwargs)
            finally:  # a sort that raises half-way may still have reordered the list
                self._record("replace", list(self))

    def reverse(self) -> None:
        with self._journal.lock:
            super().reverse()
            self._record("replace", list(self))

    def __imul__(self, n: int) -> ObservedList:
        with self._journal.lock:
            super().__imul__(n)
            self._record("replace", list(self))
            return self

    def __reduce__(self):
        return list, (list(self),)


class ListReplica(PieceReplica):
    """Encoded side: the items, and the PID that wrote each.

    Its JSON is kept in pieces, one per ``CHUNK`` items (items ``i*CHUNK`` up to the
    next), each cached until an item in it changes: appending or setting an item re-encodes
    one chunk; inserting or deleting one re-encodes the chunks from it to the end (their
    items moved).
    """

    OPS = {
        "append": ("value",),
        "extend": ("values",),
        "insert": ("index", "value"),
        "set": ("index", "value"),
        "del": ("index",),
        "clear": (),
        "replace": ("values",),
    }
    PAGES = True
    CHUNK = 1024

    def __init__(self, value: list, writers: list | None = None) -> None:
        self.items = list(value)
        self.item_writers = list(writers) if writers else [None] * len(value)
        self._chunks: list[tuple[bytes, bytes]] = []  # (items, writers) JSON, no brackets
        self._moved = 0  # every chunk from this one on is to redo
        self._dirty: set[int] = set()  # and these
        self._pieces: tuple[list[bytes], list[bytes]] | None = None

    @classmethod
    def from_raw(cls, raw: list) -> ListReplica:
        return cls(encode_list(raw))

    def _from(self, index: int) -> None:
        self._moved = min(self._moved, index // self.CHUNK)

    def apply(self, op: dict) -> None:
        name, pid = op["op"], op["pid"]
        if name == "append":
            self._dirty.add(len(self.items) // self.CHUNK)
            self.items.append(op["value"])
            self.item_writers.append(pid)
        elif name == "extend":
            self._from(len(self.items))
            self.items.extend(op["values"])
            self.item_writers.extend([pid] * len(op["values"]))
        elif name == "insert":
            self._from(op["index"])
            self.items.insert(op["index"], op["value"])
            self.item_writers.insert(op["index"], pid)
        elif name == "set":
            self._dirty.add(op["index"] // self.CHUNK)
            self.items[op["index"]] = op["value"]
            self.item_writers[op["index"]] = pid
        elif name == "del":
            self._from(op["index"])
            del self.items[op["index"]]
            del self.item_writers[op["index"]]
        elif name == "clear":
            self._moved = 0
            self.items.clear()
            self.item_writers.clear()
        elif name == "replace":
            self._moved = 0
            self.items = list(op["values"])
            self.item_writers = [pid] * len(self.items)
        else:
            raise ValueError(f"unknown list op {name!r}")
        self._pieces = None

    def value(self) -> list:
        return list(self.items)

    def writers(self) -> list:
        return list(self.item_writers)

    def page(self, offset: int, end: int | None) -> tuple[list, list]:
        return self.items[offset:end], self.item_writers[offset:end]

    def size(self) -> int:
        return len(self.items)

    def json_pieces(self) -> tuple[list[bytes], list[bytes]]:
        if self._pieces is None:
            size, chunks = self.CHUNK, self._chunks
            count = -(-len(self.items) // size)
            del chunks[min(count, self._moved) :]
            redo = {i for i in self._dirty if i < len(chunks)}
            redo.update(range(len(chunks), count))
            chunks.extend([(b"", b"")] * (count - len(chunks)))
            for i in redo:
                part = slice(i * size, (i + 1) * size)
                items, who = self.items[part], self.item_writers[part]
                chunks[i] = (_dumps(items)[1:-1].encode(), _dumps(who)[1:-1].encode())
            self._moved, self._dirty = count, set()
            self._pieces = json_arrays(chunks)
        return self._pieces
