"""The Namespace kind: attributes set and deleted by any process."""

from __future__ import annotations

from multiprocessing import managers

from ..encoding import encode
from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedNamespace(managers.Namespace):
    """Manager side: SyncManager's Namespace, journalling public attributes as they change."""

    def __init__(self, journal: Any, /, **kwds: Any) -> None:
        super().__init__(**kwds)

    def __repr__(self) -> str:
        return "Namespace" + super().__repr__()[len(type(self).__name__) :]

    def _raw(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            return object.__setattr__(self, name, value)
        with self._journal.lock:
            object.__setattr__(self, name, value)
            self._journal.record(self._oid, "setattr", (name, value))

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            return object.__delattr__(self, name)
        with self._journal.lock:
            object.__delattr__(self, name)
            self._journal.record(self._oid, "delattr", (name,))


class NamespaceReplica(Replica):
    OPS = {"setattr": ("name", "value"), "delattr": ("name",)}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.attrs = dict(value["attrs"])

    @classmethod
    def from_raw(cls, raw: dict) -> NamespaceReplica:
        return cls({"attrs": {name: encode(v) for name, v in raw.items()}})

    def apply(self, op: dict) -> None:
        if op["op"] == "setattr":
            self.attrs[op["name"]] = op["value"]
        elif op["op"] == "delattr":
            self.attrs.pop(op["name"], None)
        else:
            raise ValueError(f"unknown Namespace op {op['op']!r}")

    def value(self) -> dict:
        return {"attrs": dict(self.attrs)}

    def size(self) -> int:
        return len(self.attrs)
