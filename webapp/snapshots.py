"""SnapshotCache: the shared state encoded as JSON once per version, for every client that needs it.

A snapshot of a big state is costly: encoding 3,000 dict entries or a 500,000-item list
takes tens to hundreds of milliseconds, and a client flooding ``resync`` used to have it
built again per request, inside the lock every push waits for. Here it is built at most
once per mirror version (concurrent callers wait for the one build in progress and share
it), outside any lock a push needs, and kept as JSON text that Socket.IO sends as it is.

``ChangeHistory`` keeps the last ``changes`` sent, so that a snapshot built a moment ago
can be sent with the changes broadcast since it was built, instead of being rebuilt.
"""

from __future__ import annotations

import collections
import functools
import json
import operator
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .allocator import HeapTrimmer
from .mirror import SharedStateMirror
from .mirrored import REST_ONLY, SnapshotPieces
from .rawjson import RawJSON

GROUP_BYTES = 256 * 1024  # pieces are joined into writes of about this size
TRIMMER = HeapTrimmer()  # what a big snapshot's build freed goes back to the system


GROUP_PIECES = 32  # a group is closed at this many pieces once it has MIN_GROUP_BYTES
MIN_GROUP_BYTES = 32 * 1024


def _groups(pieces: list[bytes], size: int) -> Iterator[tuple[bytes, ...]]:
    """``pieces`` cut into runs to join: closed at ``size`` bytes, or at ``GROUP_PIECES``
    pieces once past ``MIN_GROUP_BYTES`` (so that where a big object's runs start depends on
    its chunks' count, not on their lengths: one chunk re-encoded leaves the others' runs
    as they were); a piece of ``size`` or more is a run of its own."""
    group: list[bytes] = []
    length = 0
    for piece in pieces:
        if len(piece) >= size:
            if group:
                yield tuple(group)
                group, length = [], 0
            yield (piece,)
            continue
        group.append(piece)
        length += len(piece)
        if length >= size or (len(group) >= GROUP_PIECES and length >= MIN_GROUP_BYTES):
            yield tuple(group)
            group, length = [], 0
    if group:
        yield tuple(group)


def grouped(pieces: list[bytes], size: int = GROUP_BYTES) -> tuple[bytes, ...]:
    """``pieces`` joined into as few byte strings of about ``size`` as keep each join small.

    A big object's pieces are its chunks (tens of KB) and the commas between them: written
    one by one, each would be a system call (and a GIL hand-over) per client; joined into
    one, each snapshot would copy megabytes into a fresh string at once. A piece already
    that big is kept as it is.
    """
    return tuple(b"".join(group) for group in _groups(pieces, size))


class Grouper:
    """:func:`grouped` for one snapshot after another: a run whose pieces are the very
    objects of the run at the same place last time is not joined again (its bytes are
    reused). A 100,000-entry dict changed in a few chunks then costs a join of those
    chunks' runs, not a copy of its megabytes under the GIL every push needs."""

    def __init__(self, size: int = GROUP_BYTES) -> None:
        self.size = size
        self.lock = threading.Lock()  # two REST replies may group one snapshot at once
        self.last: list[
            tuple[tuple[bytes, ...], bytes]
        ] = []  # (run, its bytes): keeps the run's pieces alive
        self.joined = 0  # bytes joined anew so far

    def __call__(self, pieces: list[bytes]) -> tuple[bytes, ...]:
        with self.lock:
            last, made, before = self.last, [], self.joined
            for run in _groups(pieces, self.size):
                old = last[len(made)] if len(made) < len(last) else None
                if old is not None and len(old[0]) == len(run) and all(map(operator.is_, old[0], run)):
                    made.append(old)
                    continue
                made.append((run, b"".join(run)))
                self.joined += len(made[-1][1])
            self.last, new_bytes = made, self.joined - before
        TRIMMER.built(new_bytes)
        return tuple(joined for _, joined in made)


def encoded(value: Any) -> list[bytes]:
    """``value`` as compact UTF-8 JSON, in one piece (for :func:`json_object`)."""
    return [json.dumps(value, separators=(",", ":")).encode()]


def json_object(members: dict[str, list[bytes]]) -> tuple[bytes, ...]:
    """A JSON object of ``members`` in their order, each value UTF-8 JSON in pieces (a
    replica's cached chunks, or :func:`encoded`), written as they are: grouped, never
    joined whole."""
    out: list[bytes] = []
    for name, pieces in members.items():
        out += (b"," if out else b"{", json.dumps(name).encode(), b":", *pieces)
    out.append(b"}" if out else b"{}")
    return grouped(out)


@dataclass(frozen=True)
class EncodedSnapshot:
    """The mirror's part of a snapshot at ``version``, as UTF-8 JSON (an object) in parts.

    It is kept as bytes, the way it goes out: a socket or an HTTP response writes the few
    fields read at send time (``head``) and then these parts one after another, as they
    are. Joining them into one message would copy megabytes into fresh memory for every
    client, under the GIL every push needs.

    The socket's snapshot holds each object once (``socket_members``). ``GET /api/state``
    also has d and l again as its documented ``list``, ``dict`` and ``writers``
    (``mirrored.REST_ONLY``): its ``members`` are grouped the first time a REST reply asks
    for this version, never for a socket.
    """

    version: int
    generation: int
    socket_members: tuple[bytes, ...]  # the object without its opening brace: ``"version":7,...}``
    pieces: SnapshotPieces = field(compare=False)  # what the mirror handed over, for fields=
    group_rest: Callable[[list[bytes]], tuple[bytes, ...]] = field(default=grouped, compare=False)

    def head(self, fields: dict[str, Any]) -> bytes:
        """The opening of the object with ``fields`` (workers, output, ... read at send time)."""
        extra = json.dumps(fields, separators=(",", ":"))[1:-1]  # ASCII: json.dumps escapes the rest
        return ("{" + extra + ("," if extra else "")).encode()

    @functools.cached_property
    def members(self) -> tuple[bytes, ...]:
        """What ``GET /api/state`` writes after its head: ``"list":...,"dict":...,"writers":...,``
        then the socket's members."""
        rest: list[bytes] = []
        for name in REST_ONLY:
            rest += (f"{json.dumps(name)}:".encode(), *self.pieces.rest[name], b",")
        return self.group_rest(rest) + self.socket_members

    def size(self, head: bytes) -> int:
        """The length of ``GET /api/state``'s reply with this ``head``."""
        return len(head) + sum(map(len, self.members))

    def fields(self, names: list[str], head: dict[str, Any]) -> tuple[bytes, ...]:
        """``GET /api/state?fields=``'s reply: ``names`` in that order, each from ``head``
        (fields read at send time) or from the mirror's pieces; nothing else is joined."""
        return json_object(
            {name: encoded(head[name]) if name in head else self.pieces.field(name) for name in names}
        )

    def with_fields(self, fields: dict[str, Any]) -> RawJSON:
        """The socket's snapshot as one text (for a client that long-polls)."""
        return RawJSON((self.head(fields) + b"".join(self.socket_members)).decode())


class SnapshotCache:
    """Builds the mirror's snapshot once per version; ``invalidate`` after the mirror is reloaded."""

    def __init__(self, mirror: SharedStateMirror) -> None:
        self.mirror = mirror
        self.build_lock = threading.Lock()  # one build at a time; pushes never wait for it
        self.generation = 0
        self.latest: EncodedSnapshot | None = None
        # one version's groups reused by the next wherever its pieces did not change
        self.group_socket, self.group_rest = Grouper(), Grouper()

    def get(self) -> EncodedSnapshot:
        """The snapshot of the mirror's current version, built now only if not built yet."""
        with self.build_lock:
            generation = self.generation
            # the mirror keeps each object's JSON in pieces and hands over references to them
            # (the named locks are sent at send time instead, with their holders' liveness:
            # snapshot_fields). A big mirror hands back the pieces it collected a moment ago
            # (see snapshot_pieces): then so does this, rather than grouping them again.
            pieces = self.mirror.snapshot_pieces()
            latest = self.latest
            if latest is not None and pieces is latest.pieces and latest.generation == generation:
                return latest
            # each object once: d and l are not repeated as REST_ONLY's fields (kept aside
            # for GET /api/state, which documents them); grouped here, outside the mirror's lock
            members = [f'"version":{pieces.version},"objects":'.encode(), *pieces.objects, b"}"]
            # the generation read before the build: one reloaded meanwhile makes this stale
            socket_members = self.group_socket(members)
            self.latest = EncodedSnapshot(pieces.version, generation, socket_members, pieces, self.group_rest)
            return self.latest

    def invalidate(self) -> None:
        """The mirror was replaced wholesale (same version, other contents): build anew."""
        self.generation += 1

    def is_current(self, snap: EncodedSnapshot) -> bool:
        return snap.generation == self.generation


class ChangeHistory:
    """The ``changes`` payloads sent last, up to ``max_ops`` operations in all.

    A ``create`` counts once per item of its value too: a Manager's journal that overflowed
    comes back as a create per object holding its whole value (a 270,000-entry dict's pairs,
    ~100 bytes each), which counted as one op kept up to 50,000 such creates alive.
    """

    def __init__(self, max_ops: int = 50_000) -> None:
        self.max_ops = max_ops
        self.payloads: collections.deque[dict] = collections.deque()
        self.weights: collections.deque[int] = collections.deque()  # each payload's, as counted in ops
        self.ops = 0
        self.sent_version: int | None = None  # the version clients hold after the last one

    def add(self, payload: dict) -> None:
        ops = payload["ops"]
        weight = len(ops)
        for op in ops:
            if op.get("op") == "create" and type(value := op.get("value")) is list:
                weight += len(value)
        if weight > self.max_ops:  # alone past the bound: not kept (a client joining after gets a snapshot)
            self.clear()
            self.sent_version = payload["to"]
            return
        self.payloads.append(payload)
        self.weights.append(weight)
        self.ops += weight
        self.sent_version = payload["to"]
        while self.ops > self.max_ops and len(self.payloads) > 1:
            self.payloads.popleft()
            self.ops -= self.weights.popleft()

    def clear(self) -> None:
        self.payloads.clear()
        self.weights.clear()
        self.ops = 0
        self.sent_version = None

    def since(self, version: int) -> dict | None:
        """The changes sent after ``version`` as one payload; ``{}`` if none; None if not kept."""
        if self.sent_version is None or version >= self.sent_version:
            return {}
        if not self.payloads or self.payloads[0]["from"] > version:
            return None
        # from the newest back to the first that holds ``version``: a snapshot is a moment
        # old, and this runs under the lock every push takes (up to 50,000 payloads are kept)
        after: list[dict] = []
        for payload in reversed(self.payloads):
            after.append(payload)
            if payload["from"] <= version:
                break
        ops = [op for p in reversed(after) for op in p["ops"] if op["seq"] > version]
        return {"from": version, "to": self.sent_version, "ops": ops}
