"""The server's copy of every shared object, kept current by replaying journal entries.

Each object is held as its clients see it (encoded, in its kind's Replica), so snapshots
for new clients and ``GET /api/state`` never touch the Manager and never re-encode the
state: the reads are its base class's, :class:`~webapp.mirrored.MirroredObjects`. The
built-in dict ``d`` and list ``l`` are also kept as real values: if the Manager dies, they
are what the next one starts from.
"""

from __future__ import annotations

import logging
from typing import Any

from sharedstate import carry
from sharedstate.kinds import Replica, replica_for
from sharedstate.kinds.locks import named_lock_name

from .mirrored import MirroredObject, MirroredObjects

logger = logging.getLogger(__name__)

# The built-in objects keep the op fields clients used before objects had ids.
TARGETS = {"d": "dict", "l": "list"}
EMPTY = {
    "dict": {},
    "list": [],
    "Queue": {"items": [], "maxsize": 0, "unfinished": 0, "blocked": []},
    "Value": {"typecode": "?", "value": None},
    "Array": {"typecode": "?", "items": []},
    "Namespace": {},
}
EMPTY["JoinableQueue"] = EMPTY["Queue"]


def op_tags(oid: str) -> dict:
    """The fields every op of object ``oid`` carries: the built-in ``d`` and ``l`` their
    ``target`` (as before objects had ids), a named lock ``target`` and ``name``."""
    if oid in TARGETS:
        return {"target": TARGETS[oid]}
    lock_name = named_lock_name(oid)
    return {} if lock_name is None else {"target": "lock", "name": lock_name}


class SharedStateMirror(MirroredObjects):
    """Versioned copy of every shared object, changed by replaying what its Managers journal."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict = {}  # the real contents of d and l, to restore a new Manager
        self.items: list = []

    def load(self, version: int, objects: list) -> None:
        """Replace the whole copy with a consistent snapshot from the Manager (``journal.snapshot()``)."""
        with self.lock:
            self.version = version
            self.objects = {}
            self._parts = None  # same version maybe, other contents (a new Manager's)
            for oid, kind, label, blob in objects:
                raw = carry.loads(blob)
                self._add(oid, kind, label, raw)

    def replace(self, version: int, objects: dict[str, tuple[str, str, Replica, int | None, str]]) -> None:
        """Hold ``objects`` (``id -> (kind, label, encoded Replica, manager_pid, origin)``) at ``version``:
        a state rebuilt elsewhere, e.g. from a recording (``mpscope open``)."""
        with self.lock:
            self.version = version
            self._parts = None
            self.objects = {
                oid: MirroredObject(kind, label, replica, manager_pid, tags=op_tags(oid), origin=origin)
                for oid, (kind, label, replica, manager_pid, origin) in objects.items()
            }

    def apply_ops(self, ops: list[dict]) -> None:
        """Replay encoded ops (as ``changes`` carries them) after the current version."""
        with self.lock:
            for op in ops:
                if op["seq"] <= self.version:
                    continue
                self.version = op["seq"]
                oid, name = op["object"], op["op"]
                if name == "create":
                    replica = replica_for(op["kind"], op.get("origin"))(op["value"], op.get("writers"))
                    self.objects[oid] = MirroredObject(
                        op["kind"], op.get("label") or "", replica, op.get("manager_pid"), tags=op_tags(oid)
                    )
                    self.objects[oid].origin = op.get("origin") or "manager"
                elif name == "forget":
                    self.objects.pop(oid, None)
                elif (obj := self.objects.get(oid)) is not None:
                    obj.replica.apply(op)
                    obj.replica.changed()

    def _add(self, oid: str, kind: str, label: str, raw: Any, origin: str = "manager") -> MirroredObject:
        if isinstance(raw, carry.Unloadable):
            # a snapshot of an object holding a value the server cannot load: its later ops still show
            logger.warning("shared object %s could not be loaded: %s", oid, raw.reason)
            raw = EMPTY[kind]
        obj = self.objects[oid] = MirroredObject(
            kind, label, replica_for(kind, origin).from_raw(raw), tags=op_tags(oid), origin=origin
        )
        if oid == "d":
            self.entries = dict(raw)
        elif oid == "l":
            self.items = list(raw)
        return obj

    def apply(
        self, journal_entries: list, manager_pid: int | None = None, origin: str = "manager"
    ) -> list[dict]:
        """Replay journal entries in order; return them encoded as ``changes`` ops.

        ``manager_pid`` names the watched program's Manager the entries come from; ``origin``
        is ``"native"`` for the program's own multiprocessing locks.
        """
        ops = []
        with self.lock:
            objects = self.objects
            for seq, oid, name, blobs, pid, t in journal_entries:
                if seq <= self.version:
                    continue  # already contained in the snapshot we loaded
                self.version = seq
                # nearly every arg is a plain scalar, carried as it is: no call per arg then
                args = tuple(map(carry.load_arg, blobs)) if bytes in map(type, blobs) else blobs
                op = {"seq": seq, "object": oid, "op": name, "pid": pid, "t": t}
                if type(pid) is str:  # a client of a Manager served over TCP: its host:port
                    op.update(pid=None, peer=pid)
                if name == "create":
                    kind, label, raw = args
                    added = self._add(oid, kind, label, raw, origin)
                    added.manager_pid = manager_pid
                    op.update(added.describe())
                    op.update(added.tags)
                elif name == "forget":  # dropped by the Manager (a free, unused named lock)
                    dropped = objects.pop(oid, None)
                    op["kind"] = dropped.kind if dropped is not None else None
                    op.update(op_tags(oid))
                else:
                    obj = objects.get(oid)
                    if obj is None:
                        logger.warning("journal entry %d for unknown object %r skipped", seq, oid)
                        continue
                    op["kind"] = obj.kind
                    replica = obj.replica
                    op.update(replica.op_fields(name, args))
                    replica.apply(op)
                    replica._texts = None  # replica.changed(), inlined: this loop runs per op
                    if oid in TARGETS:
                        self._apply_raw(oid, name, args)
                    if obj.tags:
                        op.update(obj.tags)
                ops.append(op)
        return ops

    def _apply_raw(self, oid: str, name: str, args: tuple) -> None:
        if oid == "d":
            if name == "set":
                self.entries[args[0]] = args[1]
            elif name == "del":
                self.entries.pop(args[0], None)
            elif name == "clear":
                self.entries.clear()
        elif oid == "l":
            items = self.items
            if name == "append":
                items.append(args[0])
            elif name == "extend":
                items.extend(args[0])
            elif name in ("insert", "set"):
                if name == "insert":
                    items.insert(*args)
                else:
                    items[args[0]] = args[1]
            elif name == "del":
                del items[args[0]]
            elif name == "clear":
                items.clear()
            elif name == "replace":
                self.items = list(args[0])

    def raw(self) -> tuple[int, list, dict]:
        """Return copies of the real values of d and l, to restore them into a new Manager."""
        with self.lock:
            return self.version, list(self.items), dict(self.entries)
