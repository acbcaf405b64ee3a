"""The dict kind: a ``dict`` whose every change is journalled with the key as the dict stores it."""

from __future__ import annotations

import json
import time
from functools import partial
from itertools import islice

from ..encoding import encode
from ..journal import PLAIN, caller
from .base import SEPARATORS, PieceReplica, canon

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_dumps = partial(json.dumps, separators=SEPARATORS)


class ObservedDict(dict):
    """Manager side. Behaves as a plain dict; journals ``set``, ``del`` and ``clear``.

    ``_keys`` maps each key to itself, so the key *as stored* is one lookup away: after
    ``d[3] = "a"; d[3.0] = "b"`` the dict keeps the key ``3``, and so must every replay.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys = {k: k for k in self}

    def _raw(self) -> dict:
        return dict(self)

    def __setitem__(
        self,
        key: Any,
        value: Any,
        /,
        *,  # the constants below as locals, never filled by a caller's extra arguments
        _set=dict.__setitem__,
        _plain=PLAIN,
        _caller=caller,
        _now=time.time,
        _type=type,
    ) -> None:
        # Every write of every process comes through here, in the Manager's one GIL, and runs
        # with cold caches (the Manager waits on a socket between ops): journal.record()
        # inlined, which halves what recording adds to a saturated Manager's time per op.
        journal = self._journal
        lock = journal.lock
        lock.acquire()
        try:
            _set(self, key, value)
            stored = self._keys.setdefault(key, key)
            if _type(stored) in _plain and _type(value) in _plain:
                args = (stored, value)
            else:
                args = journal.carried((stored, value))
            journal.version = version = journal.version + 1
            journal.entries.append((version, self._oid, "set", args, _caller.pid, _now()))
            if journal.waiting:
                journal.changed.notify_all()
        finally:
            lock.release()

    def __delitem__(self, key: Any) -> None:
        with self._journal.lock:
            super().__delitem__(key)
            self._journal.record(self._oid, "del", (self._keys.pop(key),))

    def clear(self) -> None:
        with self._journal.lock:
            super().clear()
            self._keys.clear()
            self._journal.record(self._oid, "clear")

    def pop(self, key: Any, *default: Any) -> Any:
        with self._journal.lock:
            if key not in self:
                return super().pop(key, *default)
            value = super().pop(key)
            self._journal.record(self._oid, "del", (self._keys.pop(key),))
            return value

    def popitem(self) -> tuple:
        with self._journal.lock:
            key, value = super().popitem()
            del self._keys[key]
            self._journal.record(self._oid, "del", (key,))
            return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        with self._journal.lock:
            if key in self:
                return dict.__getitem__(self, key)
            self[key] = default
            return default

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Apply pairs one by one as ``dict.update`` does: a bad pair keeps the ones before it."""
        with self._journal.lock:
            if hasattr(other, "keys"):
                mapping = other
                other = ((k, mapping[k]) for k in mapping.keys())  # noqa: SIM118 -- dict.update calls keys()
            self._update(other)
            self._update(kwargs.items())

    def _update(self, pairs: Any) -> None:
        taken: list = []
        source_failed = False

        def tap():
            nonlocal source_failed
            iterator = iter(pairs)
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                except BaseException:
                    source_failed = True
                    raise
                taken.append(item)
                yield item

        try:
            dict.update(self, tap())
        except BaseException:
            if not source_failed:
                taken.pop()  # dict.update refused this one: it was not applied
            raise
        finally:
            for key, value in taken:
                self._journal.record(self._oid, "set", (self._keys.setdefault(key, key), value))

    def __ior__(self, other: Any) -> ObservedDict:
        self.update(other)
        return self

    def __reduce__(self):
        # Copies leaving the Manager (d.copy(), snapshots) are plain dicts.
        return dict, (dict(self),)


class _Chunk:
    """Up to ``CHUNK`` consecutive entries of a DictReplica and their JSON, cached until one changes."""

    __slots__ = ("members", "value", "writers")

    def __init__(self) -> None:
        self.members: dict[str, list] = {}  # canon(key) -> its entry, in insertion order
        self.value = b""  # the entries' [key, value] pairs as JSON, without brackets
        self.writers = b""  # their writers as JSON, without brackets


class DictReplica(PieceReplica):
    """Encoded side: entries keyed by their encoded key, with the PID that wrote each last.

    Its JSON is kept in pieces: the entries, in insertion order, are cut into chunks of at
    most ``CHUNK``, and each chunk's text is cached until one of its entries changes (each
    entry's own text too). A snapshot of 100,000 entries then re-encodes only what changed
    since the last one and hands out the chunks' bytes as they are (:meth:`json_pieces`):
    its cost does not depend on how much changed in between.
    """

    OPS = {"set": ("key", "value"), "del": ("key",), "clear": ()}
    PAGES = True
    CHUNK = 512

    def __init__(self, value: list, writers: list | None = None) -> None:
        writers = writers or [None] * len(value)
        # canon(key) -> [key, value, writer, JSON of [key, value] (None: to redo), its _Chunk]
        self.entries: dict[str, list] = {}
        self.chunks: list[_Chunk] = []
        self.dirty: set[_Chunk] = set()  # chunks whose text is to redo
        self._pieces: tuple[list[bytes], list[bytes]] | None = None
        for (k, v), w in zip(value, writers, strict=True):
            self._add(canon(k), [k, v, w, None, None])

    def _add(self, key: str, entry: list) -> None:
        chunks = self.chunks
        if not chunks or len(chunks[-1].members) >= self.CHUNK:
            chunks.append(_Chunk())
        chunk = entry[4] = chunks[-1]
        chunk.members[key] = entry
        self.entries[key] = entry
        self.dirty.add(chunk)

    @classmethod
    def from_raw(cls, raw: dict) -> DictReplica:
        return cls([[encode(k), encode(v)] for k, v in raw.items()])

    def apply(self, op: dict) -> None:
        name = op["op"]
        if name == "set":
            encoded = op["key"]
            key = "s" + encoded if type(encoded) is str else canon(encoded)  # canon(), inlined: hot
            entry = self.entries.get(key)
            if entry is None:
                self._add(key, [encoded, op["value"], op["pid"], None, None])
            else:
                entry[1], entry[2], entry[3] = op["value"], op["pid"], None
                self.dirty.add(entry[4])
        elif name == "del":
            key = canon(op["key"])
            entry = self.entries.pop(key, None)
            if entry is not None:
                chunk = entry[4]
                del chunk.members[key]
                self.dirty.add(chunk)
        elif name == "clear":
            self.entries.clear()
            self.chunks.clear()
            self.dirty.clear()
            self._pieces = None
        else:
            raise ValueError(f"unknown dict op {name!r}")

    def value(self) -> list:
        return [[k, v] for k, v, _, _, _ in self.entries.values()]

    def writers(self) -> list:
        return [w for _, _, w, _, _ in self.entries.values()]

    def page(self, offset: int, end: int | None) -> tuple[list, list]:
        """Entries ``offset:end`` (pairs, and their writers), without building the rest.

        The chunks hold the entries in order, so the ones before the page are skipped by
        their sizes alone: a page near the end of 100,000 entries visits only its chunks.
        """
        chosen: list = []
        want = None if end is None else max(0, end - offset)
        for chunk in self.chunks:
            if want == 0:
                break
            count = len(chunk.members)
            if offset >= count:
                offset -= count
                continue
            taken = list(islice(chunk.members.values(), offset, None if want is None else offset + want))
            chosen += taken
            offset = 0
            if want is not None:
                want -= len(taken)
        return [[k, v] for k, v, _, _, _ in chosen], [w for _, _, w, _, _ in chosen]

    def _refresh(self) -> None:
        """Encode again the entries changed since the last time, and their chunks' texts."""
        dumps = _dumps
        for chunk in self.dirty:
            texts = []
            for entry in chunk.members.values():
                text = entry[3]
                if text is None:
                    text = entry[3] = dumps(entry[:2])
                texts.append(text)
            chunk.value = ",".join(texts).encode()
            chunk.writers = dumps([e[2] for e in chunk.members.values()])[1:-1].encode()
        self.dirty.clear()
        if len(self.chunks) > 2 * (len(self.entries) // self.CHUNK + 1):
            self._rechunk()  # deletions left too many small or empty chunks
        self._pieces = None

    def _rechunk(self) -> None:
        entries = list(self.entries.items())
        self.entries, self.chunks = {}, []
        for key, entry in entries:
            self._add(key, entry)
        self._refresh()

    def json_pieces(self) -> tuple[list[bytes], list[bytes]]:
        if self.dirty or self._pieces is None:
            self._refresh()
            value, writers = [b"["], [b"["]
            for chunk in self.chunks:
                if chunk.members:
                    value += (chunk.value, b",")
                    writers += (chunk.writers, b",")
            if len(value) > 1:
                value.pop()
                writers.pop()
            value.append(b"]")
            writers.append(b"]")
            self._pieces = (value, writers)
        return self._pieces

    def size(self) -> int:
        return len(self.entries)
