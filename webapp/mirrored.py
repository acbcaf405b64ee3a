"""MirroredObjects: the mirror's versioned objects, and every read of them.

What clients and the diagnoses read of the shared objects: the whole snapshot (as values,
or as each object's cached UTF-8 JSON pieces), one object (paged), the locks. The replay that
changes them is :class:`~webapp.mirror.SharedStateMirror`'s, a subclass; every read here
holds ``lock``, which the replay holds per batch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sharedstate.kinds import Replica
from sharedstate.kinds.base import SEPARATORS
from sharedstate.kinds.locks import named_lock_name

from .rawjson import RawJSON

# GET /api/state's fields that repeat objects d and l (their value and writers): not on the socket
REST_ONLY = ("list", "dict", "writers")
# the fields of a snapshot that are the mirror's (the rest are read at send time: Dashboard.snapshot_fields)
MIRROR_FIELDS = ("version", "objects", *REST_ONLY)
REUSE = 10  # a snapshot may be reused for this many times what it took to build (see snapshot_parts)


@dataclass
class MirroredObject:
    kind: str
    label: str
    replica: Replica
    manager_pid: int | None = None  # a watched program's Manager that holds it (mpscope run)
    tags: dict | None = None  # fields every op of it carries (see mirror.op_tags)
    origin: str = "manager"  # or "native": one of multiprocessing's own objects (webapp/native/)

    def describe(self) -> dict:
        out = {"kind": self.kind, "label": self.label, "origin": self.origin, "value": self.replica.value()}
        if self.manager_pid is not None:
            out["manager_pid"] = self.manager_pid
        if getattr(self.replica, "truncated", 0):  # entries beyond the bound, not kept (a big dict)
            out["truncated"] = self.replica.truncated
        writers = self.replica.writers()
        if writers is not None:
            out["writers"] = writers
        return out

    def json_pieces(self, oid: str) -> list[bytes]:
        """``"oid":describe()`` as UTF-8 JSON in pieces: the replica's cached pieces as they
        are (a big dict's chunks), never joined here."""
        value, writers = self.replica.json_pieces()
        fields = {"kind": self.kind, "label": self.label, "origin": self.origin}
        if self.manager_pid is not None:
            fields["manager_pid"] = self.manager_pid
        if getattr(self.replica, "truncated", 0):
            fields["truncated"] = self.replica.truncated
        head = f'{json.dumps(oid)}:{json.dumps(fields, separators=SEPARATORS)[:-1]},"value":'
        if writers is None:
            return [head.encode(), *value, b"}"]
        return [head.encode(), *value, b',"writers":', *writers, b"}"]


@dataclass(frozen=True)
class SnapshotPieces:
    """The mirror's part of a snapshot at ``version``: each field's UTF-8 JSON in pieces.

    The pieces are the replicas' cached bytes, shared: written out one after another (or
    joined), never changed. ``objects`` is the socket's; ``rest`` holds ``GET /api/state``'s
    ``REST_ONLY`` fields (d and l again).
    """

    version: int
    objects: list[bytes]
    rest: dict[str, list[bytes]]

    def field(self, name: str) -> list[bytes]:
        """One field's value (``version``, ``objects`` or a ``REST_ONLY`` one) in pieces."""
        if name == "version":
            return [str(self.version).encode()]
        return self.objects if name == "objects" else self.rest[name]


class MirroredObjects:
    """Every shared object as its clients see it, at ``version``; the reads of it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = 0
        self.objects: dict[str, MirroredObject] = {}
        # (version, snapshot_parts(), built at, seconds it took) of the last one built
        self._parts: tuple[int, dict, float, float] | None = None
        # a feed that may hold changes back while nobody reads (ManagerJournals): every read
        # below asks it to replay them first
        self.before_read: Callable[[], None] | None = None

    def _catch_up(self) -> None:
        if self.before_read is not None:
            self.before_read()

    def current_version(self) -> int:
        """The version every read sees now (``version``, once held changes are replayed)."""
        self._catch_up()
        return self.version

    def snapshot(self) -> dict[str, Any]:
        """Return ``{"version", "objects", "list", "dict", "locks", "writers"}``, all encoded."""
        self._catch_up()
        with self.lock:
            objects = {oid: obj.describe() for oid, obj in self.objects.items()}
            d, l = objects.get("d", {}), objects.get("l", {})  # noqa: E741
            return {
                "version": self.version,
                "objects": objects,
                "list": l.get("value", []),
                "dict": d.get("value", []),
                "locks": self._named_locks(),
                "writers": {"list": l.get("writers", []), "dict": d.get("writers", [])},
            }

    def snapshot_pieces(self) -> SnapshotPieces:
        """The mirror's part of a snapshot (``MIRROR_FIELDS``) as UTF-8 JSON in pieces.

        Every object keeps its encoded form in pieces (a big dict's or list's chunks, each
        re-encoded only when something in it changed: ``Replica.json_pieces``), so a
        snapshot holds the lock the feed needs only to re-encode what changed since the
        last one and to collect references to the pieces: tens of microseconds at 100,000
        dict entries, however much changed. Nothing is joined here; ``SnapshotCache`` does
        that outside this lock, and the bytes go out as they are.

        ``list``, ``dict`` and ``writers`` (``REST_ONLY``) are the pieces of objects ``d``
        and ``l`` again, for ``GET /api/state``'s documented fields: the socket's snapshot
        leaves them out (the page reads ``objects``), so each object goes out once.

        A snapshot is still reused for up to ``REUSE`` times what it took to build (it says
        its own version, and clients apply the changes after it as usual), so that however
        many clients ask, snapshots hold the feed back for at most ~1/(REUSE+1) of the time.
        """
        self._catch_up()
        with self.lock:
            now = time.monotonic()
            if self._parts is not None:
                version, pieces, built_at, cost = self._parts
                if version == self.version or now - built_at < REUSE * cost:
                    return pieces
            objects = [b"{"]
            for oid, obj in self.objects.items():
                objects += obj.json_pieces(oid)
                objects.append(b",")
            if len(objects) > 1:
                objects.pop()
            objects.append(b"}")
            none = ([b"[]"], [b"[]"])
            d = self.objects["d"].replica.json_pieces() if "d" in self.objects else none
            l = self.objects["l"].replica.json_pieces() if "l" in self.objects else none  # noqa: E741
            writers = [b'{"list":', *l[1], b',"dict":', *d[1], b"}"]
            pieces = SnapshotPieces(self.version, objects, {"list": l[0], "dict": d[0], "writers": writers})
            self._parts = (self.version, pieces, now, time.monotonic() - now)
            return pieces

    def snapshot_parts(self) -> dict[str, Any]:
        """``snapshot()`` with its big parts as JSON text (RawJSON), from :meth:`snapshot_pieces`
        (joined here: for a caller that wants one text, e.g. a recording's snapshot)."""
        pieces = self.snapshot_pieces()
        parts = {name: RawJSON(b"".join(pieces.field(name)).decode()) for name in MIRROR_FIELDS}
        parts["version"] = pieces.version
        parts["locks"] = self.snapshot_locks(catch_up=False)
        return parts

    def object(
        self, oid: str, offset: int = 0, limit: int | None = None, leave_out: frozenset = frozenset()
    ) -> dict | None:
        """One object as in ``snapshot()["objects"]``, with the version it is at.

        ``offset`` and ``limit`` page a value that is a sequence (a dict's pairs, a list's or
        a Queue's or Array's items, with their writers); ``total`` says how many there are.
        Only the page is built, not the whole value. ``leave_out`` names fields not wanted
        (``value``, ``writers``): they are not built either, and stand as ``None``.
        """
        self._catch_up()
        paged = bool(offset) or limit is not None
        end = None if limit is None else offset + limit
        with self.lock:
            obj = self.objects.get(oid)
            if obj is None:
                return None
            replica = obj.replica
            out = {"id": oid, "version": self.version, "kind": obj.kind, "label": obj.label}
            out["origin"] = obj.origin
            has_writers = type(replica).writers is not Replica.writers
            total = None
            if paged and replica.PAGES:
                value, writers = replica.page(offset, end)
                total = replica.size()
            else:
                value = None if "value" in leave_out and not paged else replica.value()
                writers = None if "writers" in leave_out or not has_writers else replica.writers()
            out["value"] = value
            if obj.manager_pid is not None:
                out["manager_pid"] = obj.manager_pid
            if getattr(replica, "truncated", 0):
                out["truncated"] = replica.truncated
            if has_writers:
                out["writers"] = writers  # None: left out
        if paged:
            if total is None:  # a kind whose value holds the items (a Queue's, an Array's)
                items = value.get("items") if isinstance(value, dict) else value
                if not isinstance(items, list):
                    return out
                total = len(items)
                if isinstance(value, dict):
                    out["value"] = {**value, "items": items[offset:end]}
                else:
                    out["value"] = items[offset:end]
                if out.get("writers") is not None:
                    out["writers"] = out["writers"][offset:end]
            out.update(offset=offset, limit=limit, total=total)
        return out

    def object_pieces(self, oid: str) -> tuple[dict, list[bytes], list[bytes] | None] | None:
        """One object as :meth:`object` gives it unpaged, with its value and writers as the
        replica's cached UTF-8 JSON pieces (``json_pieces``: shared, never to be changed)
        rather than built: ``(fields, value, writers)``; writers None for a kind without."""
        self._catch_up()
        with self.lock:
            obj = self.objects.get(oid)
            if obj is None:
                return None
            fields = {"id": oid, "version": self.version, "kind": obj.kind, "label": obj.label}
            fields["origin"] = obj.origin
            if obj.manager_pid is not None:
                fields["manager_pid"] = obj.manager_pid
            if getattr(obj.replica, "truncated", 0):
                fields["truncated"] = obj.replica.truncated
            value, writers = obj.replica.json_pieces()
            if writers is None and type(obj.replica).writers is not Replica.writers:
                writers = [b"null"]  # a kind with writers, none now: as object() says it
            return fields, value, writers

    def _named_locks(self) -> list[dict]:
        """The dashboard's named locks in the ``locks`` format: one holder, its waiters."""
        return [
            obj.replica.as_named_lock(name)
            for oid, obj in self.objects.items()
            if (name := named_lock_name(oid)) is not None
        ]

    def snapshot_locks(self, catch_up: bool = True) -> list[dict]:
        if catch_up:
            self._catch_up()
        with self.lock:
            return self._named_locks()

    def lock_objects(self, catch_up: bool = True) -> list[tuple[str, str, dict]]:
        """Every lock-like object as ``(id, kind, value)``, for dead holders and deadlocks.

        ``catch_up=False``: as applied so far, without replaying what a feed holds back while
        nobody watches (a background reader must not undo that saving).
        """
        if catch_up:
            self._catch_up()
        with self.lock:
            return [
                (oid, obj.kind, obj.replica.value())
                for oid, obj in self.objects.items()
                if hasattr(obj.replica, "holders")
            ]

    def values_of(self, kinds: tuple[str, ...]) -> list[tuple[str, str, Any]]:
        """Every object of ``kinds`` as ``(id, kind, value)``, as applied so far (no catch-up:
        for a background reader, as ``lock_objects(catch_up=False)``)."""
        with self.lock:
            return [
                (oid, obj.kind, obj.replica.value()) for oid, obj in self.objects.items() if obj.kind in kinds
            ]

    def labels(self, oids: list[str]) -> dict[str, str]:
        """The label of each of ``oids`` still here (no catch-up: labels do not change)."""
        with self.lock:
            return {oid: obj.label for oid in oids if (obj := self.objects.get(oid)) is not None}
