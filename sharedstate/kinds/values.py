"""The Value and Array kinds: one typed value, a typed array."""

from __future__ import annotations

import array
from multiprocessing import managers

from ..encoding import encode, encode_list
from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ObservedValue(managers.Value):
    """Manager side: SyncManager's Value, journalling each ``set``."""

    def __init__(self, journal: Any, typecode: Any, value: Any, lock: bool = True) -> None:
        super().__init__(typecode, value, lock)

    def __repr__(self) -> str:
        return f"Value({self._typecode!r}, {self._value!r})"

    def _raw(self) -> dict:
        return {"typecode": self._typecode, "value": self._value}

    def set(self, value: Any) -> None:
        with self._journal.lock:
            self._value = value
            self._journal.record(self._oid, "set", (value,))

    value = property(managers.Value.get, set)


class ObservedArray(array.array):
    """Manager side: an ``array.array`` (what SyncManager's Array is), journalling each change."""

    def __new__(cls, journal: Any, typecode: str, sequence: Any, lock: bool = True) -> ObservedArray:
        return super().__new__(cls, typecode, sequence)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __repr__(self) -> str:
        return "array" + super().__repr__()[len(type(self).__name__) :]

    def _raw(self) -> dict:
        return {"typecode": self.typecode, "items": self.tolist()}

    def __setitem__(self, index: Any, value: Any) -> None:
        with self._journal.lock:
            super().__setitem__(index, value)
            if isinstance(index, slice):
                self._journal.record(self._oid, "replace", (self.tolist(),))
            else:
                index = index.__index__()
                index = index + len(self) if index < 0 else index
                self._journal.record(self._oid, "set", (index, self[index]))  # as stored: 3 -> 3.0 in 'd'

    def __reduce__(self):
        return array.array, (self.typecode, self.tolist())


class ValueReplica(Replica):
    OPS = {"set": ("value",)}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.typecode, self.current = value["typecode"], value["value"]
        self.writer = (writers or [None])[0]

    @classmethod
    def from_raw(cls, raw: dict) -> ValueReplica:
        return cls({"typecode": encode(raw["typecode"]), "value": encode(raw["value"])})

    def apply(self, op: dict) -> None:
        if op["op"] != "set":
            raise ValueError(f"unknown Value op {op['op']!r}")
        self.current, self.writer = op["value"], op["pid"]

    def value(self) -> dict:
        return {"typecode": self.typecode, "value": self.current}

    def writers(self) -> list:
        return [self.writer]


class ArrayReplica(Replica):
    OPS = {"set": ("index", "value"), "replace": ("values",)}

    def __init__(self, value: dict, writers: list | None = None) -> None:
        self.typecode, self.items = value["typecode"], list(value["items"])
        self.item_writers = list(writers) if writers else [None] * len(self.items)

    @classmethod
    def from_raw(cls, raw: dict) -> ArrayReplica:
        return cls({"typecode": raw["typecode"], "items": encode_list(raw["items"])})

    def apply(self, op: dict) -> None:
        if op["op"] == "set":
            self.items[op["index"]] = op["value"]
            self.item_writers[op["index"]] = op["pid"]
        elif op["op"] == "replace":
            self.items = list(op["values"])
            self.item_writers = [op["pid"]] * len(self.items)
        else:
            raise ValueError(f"unknown Array op {op['op']!r}")

    def value(self) -> dict:
        return {"typecode": self.typecode, "items": list(self.items)}

    def writers(self) -> list:
        return list(self.item_writers)

    def size(self) -> int:
        return len(self.items)
