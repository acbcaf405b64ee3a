"""The program's own multiprocessing objects other than locks: a value replaced whole.

A native Queue, Pipe, Value or shared memory block has no journal: the dashboard merges
what each process's agent samples into one value (``webapp/native/``) and sends it as a
``sample`` op, which replaces the value. The value is JSON-ready as it comes (the agent
sends short reprs, never the program's objects).
"""

from __future__ import annotations

from .base import Replica

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


class SampledReplica(Replica):
    """A value the ``sample`` op replaces whole."""

    OPS = {"sample": ("value",)}

    def __init__(self, value: Any, writers: list | None = None) -> None:
        self._value = value

    @classmethod
    def op_fields(cls, op: str, args: tuple) -> Iterable[tuple[str, Any]]:
        return [("value", args[0])] if op == "sample" and args else []

    @classmethod
    def from_raw(cls, raw: Any) -> SampledReplica:
        return cls(raw)

    def apply(self, op: dict) -> None:
        if op["op"] == "sample":
            self._value = op["value"]

    def value(self) -> Any:
        return self._value
