"""The one replayer of what clients receive: ``snapshot`` + ``changes`` -> every shared object.

Tests, benchmarks, chaos runs and tools rebuild the state with this, as the page does
with ``static/js/objects.js`` and its kind modules (both are held to the golden fixtures
of ``tests/fixtures/replay/``: ``tests/test_replay_fixtures.py``); the server's mirror
replays through the same per-kind Replica classes (:mod:`sharedstate.kinds`).
"""

from __future__ import annotations

from .kinds import Replica, replica_for
from .kinds.locks import named_lock_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class StateReplica:
    """Every shared object as rebuilt only from ``snapshot`` and ``changes`` messages.

    Batches may arrive out of order (python-socketio runs handlers in threads): they wait
    in ``pending`` until the batch that follows the current version arrives.
    """

    def __init__(self) -> None:
        self.version: int | None = None
        self.objects: dict[str, dict] = {}  # id -> {"kind", "label", "replica"}
        self.pending: list[dict] = []

    def load(self, snap: dict) -> None:
        if self.version is not None and snap["version"] < self.version:
            return  # an older snapshot delivered late; what we have is newer and consistent
        self.version = snap["version"]
        self.objects = {
            oid: self._object(obj["kind"], obj["label"], obj["value"], obj.get("writers"), obj.get("origin"))
            for oid, obj in snap["objects"].items()
        }
        self._drain()

    @staticmethod
    def _object(kind: str, label: str, value: Any, writers: list | None, origin: str | None = None) -> dict:
        return {"kind": kind, "label": label, "replica": replica_for(kind, origin)(value, writers)}

    def add(self, changes: dict) -> None:
        self.pending.append(changes)
        if self.version is not None:
            self._drain()

    def _drain(self) -> None:
        progress = True
        while progress:
            progress = False
            for batch in list(self.pending):
                if batch["to"] <= self.version:
                    self.pending.remove(batch)
                elif batch["ops"][0]["seq"] <= self.version + 1:
                    self.pending.remove(batch)
                    for op in batch["ops"]:
                        if op["seq"] > self.version:
                            assert op["seq"] == self.version + 1, f"gap inside a batch: {batch}"
                            self.apply_op(op)
                            self.version = op["seq"]
                    progress = True

    def apply_op(self, op: dict) -> None:
        if op["op"] == "create":
            self.objects[op["object"]] = self._object(
                op["kind"], op["label"], op["value"], op.get("writers"), op.get("origin")
            )
        elif op["op"] == "forget":
            self.objects.pop(op["object"], None)
        else:
            self.objects[op["object"]]["replica"].apply(op)

    # -- reading ---------------------------------------------------------------
    def replica(self, oid: str) -> Replica | None:
        obj = self.objects.get(oid)
        return None if obj is None else obj["replica"]

    def value(self, oid: str) -> Any:
        """The object's encoded value, as ``snapshot["objects"][oid]["value"]`` would give it."""
        return self.objects[oid]["replica"].value()

    def described(self) -> dict[str, dict]:
        """Every object as in ``snapshot["objects"]`` (kind, label, value, writers)."""
        out = {}
        for oid, obj in self.objects.items():
            replica = obj["replica"]
            out[oid] = {"kind": obj["kind"], "label": obj["label"], "value": replica.value()}
            if replica.writers() is not None:
                out[oid]["writers"] = replica.writers()
        return out

    @property
    def list(self) -> list:
        return self.value("l") if "l" in self.objects else []

    @property
    def dict(self) -> list:
        return self.value("d") if "d" in self.objects else []

    @property
    def locks(self) -> dict[str, dict]:
        """The named locks in the old ``locks`` format, by name."""
        return {
            name: obj["replica"].as_named_lock(name)
            for oid, obj in self.objects.items()
            if (name := named_lock_name(oid)) is not None
        }
