"""The dict kind's encoded replica: a shared dict as its clients see it, kept compact.

A watched program may put millions of entries in a Manager dict, and the dashboard keeps
each one: an entry here is its encoded key and value (plain ints and strings as
themselves), two list slots, 4 bytes of writer and one slot of a dict that finds its
chunk, ~100 bytes for small keys and values besides the JSON text of its chunk (~20 bytes
more). Beyond ``MAX_ENTRIES`` nothing more is kept: the program's dict is shown cut.
"""

from __future__ import annotations

import json
from array import array
from functools import partial

from ..encoding import encode
from .base import SEPARATORS, PieceReplica, canon, json_arrays

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_dumps = partial(json.dumps, separators=SEPARATORS)
NO_PID = -1  # a writer that is no PID (a client of a Manager served over TCP)
_PLAIN_KEYS = frozenset({str, int, float, bool, type(None)})
HOT = 64  # updates found by a scan after which a chunk keeps a dict of its positions


class _Chunk:
    """Up to ``CHUNK`` consecutive entries of a DictReplica, in parallel arrays, and their JSON
    (cached until one of them changes).

    Parallel arrays rather than an object per entry: an entry costs its key and value (plain
    ints and strings as themselves), two list slots and 4 bytes of writer.
    """

    __slots__ = ("keys", "values", "pids", "value", "writers", "index", "scans")

    def __init__(self) -> None:
        self.keys: list = []  # encoded keys, in insertion order
        self.values: list = []  # their encoded values
        self.pids = array("i")  # their writers' PIDs (NO_PID: none)
        self.value = b""  # the entries' [key, value] pairs as JSON, without brackets
        self.writers = b""  # their writers as JSON, without brackets
        self.index: dict | None = None  # key id -> offset, once the chunk is hot (see offset)
        self.scans = 0  # offsets found by a scan since the chunk was made or last shifted

    def __len__(self) -> int:
        return len(self.keys)

    def offset(self, encoded: Any, key: Any) -> int:
        """Where the entry of ``encoded`` (key id ``key``) is in the arrays.

        A scan of the keys in C (identity, then ==) keeps no position object per entry (an
        int of 32 bytes each, at a million entries 32 MB), but a decoded key is never the
        kept object, so each scan compares by value: 400 string keys cost ~1.9 µs an op, most
        of the CPU of replaying a Manager dict's writes (``mpscope run --record`` replays
        them all). So a chunk written to ``HOT`` times builds a dict of its positions: only
        the chunks the program keeps updating pay for it (~60 bytes an entry).
        """
        index = self.index
        if index is not None:
            return index[key]
        self.scans += 1
        if self.scans >= HOT:
            self.index = {
                k if type(k) in _PLAIN_KEYS else ("j", canon(k)): i for i, k in enumerate(self.keys)
            }
        return self.keys.index(encoded)

    def shifted(self) -> None:
        """An entry was removed: the positions after it moved."""
        self.index = None
        self.scans = 0

    def writer_list(self) -> list:
        return [None if p == NO_PID else p for p in self.pids]


def _key_id(encoded: Any) -> Any:
    """The encoded key as a Python dict key: plain JSON scalars as themselves (a str, an int
    and a float never collide where the program's dict would keep them apart), tagged values
    by their canonical text, in a tuple so that it never equals a plain string."""
    if type(encoded) in _PLAIN_KEYS:
        return encoded
    return ("j", canon(encoded))


class DictReplica(PieceReplica):
    """Encoded side: entries in insertion order, with the PID that wrote each last.

    Its JSON is kept in pieces: the entries, in insertion order, are cut into chunks of at
    most ``CHUNK``, and each chunk's text is cached until one of its entries changes. A
    snapshot of 100,000 entries then re-encodes only the chunks changed since the last one
    and hands out the chunks' bytes as they are (:meth:`json_pieces`): its cost does not
    depend on how much changed in between.

    At most ``MAX_ENTRIES`` entries are kept (``mpscope --max-entries``): a key written once
    that many are kept is counted (``truncated``, how many more the program's dict holds)
    and not kept, and so the replica, its JSON and snapshots stay bounded, whatever the
    program stores. Keys not kept are remembered (to count each once) up to as many again.
    """

    OPS = {"set": ("key", "value"), "del": ("key",), "clear": ()}
    PAGES = True
    CHUNK = 512
    MAX_ENTRIES = 1_000_000

    def __init__(self, value: list, writers: list | None = None) -> None:
        writers = writers or [None] * len(value)
        self.where: dict = {}  # _key_id(key) -> the chunk it is in
        self.chunks: list[_Chunk] = []
        self.dirty: set[_Chunk] = set()  # chunks whose text is to redo
        self._pieces: tuple[list[bytes], list[bytes]] | None = None
        self.truncated = 0  # entries of the program's dict not kept here (beyond MAX_ENTRIES)
        self.unkept: set = set()  # their key ids, to count each once (up to MAX_ENTRIES of them)
        for (k, v), w in zip(value, writers, strict=True):
            self._set(k, v, w)

    def _set(self, encoded: Any, value: Any, pid: Any) -> None:
        key = encoded if type(encoded) in _PLAIN_KEYS else ("j", canon(encoded))  # _key_id(), inlined: hot
        pid = NO_PID if pid is None else pid
        chunk = self.where.get(key)
        if chunk is not None:
            i = chunk.offset(encoded, key)
            chunk.values[i] = value
            chunk.pids[i] = pid
            self.dirty.add(chunk)
            return
        if len(self.where) >= self.MAX_ENTRIES:
            self._not_kept(key)
            return
        chunks = self.chunks
        if not chunks or len(chunks[-1].keys) >= self.CHUNK:
            chunks.append(_Chunk())
        chunk = self.where[key] = chunks[-1]
        if chunk.index is not None:
            chunk.index[key] = len(chunk.keys)
        chunk.keys.append(encoded)
        chunk.values.append(value)
        chunk.pids.append(pid)
        self.dirty.add(chunk)

    def _not_kept(self, key: Any) -> None:
        if key in self.unkept:
            return
        if len(self.unkept) < self.MAX_ENTRIES:
            self.unkept.add(key)
        self.truncated += 1

    @classmethod
    def from_raw(cls, raw: dict) -> DictReplica:
        return cls([[encode(k), encode(v)] for k, v in raw.items()])

    def apply(self, op: dict) -> None:
        name = op["op"]
        if name == "set":
            self._set(op["key"], op["value"], op["pid"])
        elif name == "del":
            encoded = op["key"]
            key = _key_id(encoded)
            chunk = self.where.pop(key, None)
            if chunk is not None:
                i = chunk.offset(encoded, key)
                del chunk.keys[i], chunk.values[i], chunk.pids[i]
                chunk.shifted()
                self.dirty.add(chunk)
            elif key in self.unkept:
                self.unkept.discard(key)
                self.truncated -= 1
            elif self.truncated and len(self.unkept) >= self.MAX_ENTRIES:
                self.truncated -= 1  # not remembered, but counted: it was one of them
        elif name == "clear":
            self.where.clear()
            self.chunks.clear()
            self.dirty.clear()
            self.unkept.clear()
            self.truncated = 0
            self._pieces = None
        else:
            raise ValueError(f"unknown dict op {name!r}")

    def value(self) -> list:
        return [[k, v] for chunk in self.chunks for k, v in zip(chunk.keys, chunk.values, strict=True)]

    def writers(self) -> list:
        return [w for chunk in self.chunks for w in chunk.writer_list()]

    def page(self, offset: int, end: int | None) -> tuple[list, list]:
        """Entries ``offset:end`` (pairs, and their writers), without building the rest.

        The chunks hold the entries in order, so the ones before the page are skipped by
        their sizes alone: a page near the end of 100,000 entries visits only its chunks.
        """
        pairs: list = []
        writers: list = []
        want = None if end is None else max(0, end - offset)
        for chunk in self.chunks:
            if want == 0:
                break
            count = len(chunk)
            if offset >= count:
                offset -= count
                continue
            stop = count if want is None else min(count, offset + want)
            pairs += [[k, v] for k, v in zip(chunk.keys[offset:stop], chunk.values[offset:stop], strict=True)]
            writers += chunk.writer_list()[offset:stop]
            if want is not None:
                want -= stop - offset
            offset = 0
        return pairs, writers

    def _refresh(self) -> None:
        """Encode again the chunks changed since the last time."""
        dumps = _dumps
        for chunk in self.dirty:
            # one encode of the chunk's pairs, its brackets cut off (no text kept per entry)
            chunk.value = dumps(list(zip(chunk.keys, chunk.values, strict=True)))[1:-1].encode()
            chunk.writers = dumps(chunk.writer_list())[1:-1].encode()
        self.dirty.clear()
        if len(self.chunks) > 2 * (len(self.where) // self.CHUNK + 1):
            self._rechunk()  # deletions left too many small or empty chunks
        self._pieces = None

    def _rechunk(self) -> None:
        old = self.chunks
        self.where, self.chunks = {}, []
        for chunk in old:
            for k, v, p in zip(chunk.keys, chunk.values, chunk.pids, strict=True):
                self._set(k, v, None if p == NO_PID else p)
        self._refresh()

    def json_pieces(self) -> tuple[list[bytes], list[bytes]]:
        if self.dirty or self._pieces is None:
            self._refresh()
            self._pieces = json_arrays((chunk.value, chunk.writers) for chunk in self.chunks if chunk.keys)
        return self._pieces

    def size(self) -> int:
        return len(self.where)
