"""Carry journalled values from the Manager to the server without letting one bad value stop the feed.

Each argument of a journal entry is pickled on its own in the Manager. A proxy stored
inside a value (``d["e"] = [l]``) is carried as a :class:`SharedRef` naming the object it
points to, not as a live proxy (unpickling one would open a connection to the Manager).
On the server, an argument that cannot be unpickled (a class the server cannot import)
becomes an :class:`Unloadable` that says what it was, and the rest of the feed goes on.

Standard library only: this module also runs inside a watched program's Manager.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from multiprocessing.managers import BaseProxy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class SharedRef:
    """A proxy stored inside a shared value, as the server shows it: which object it points to."""

    __slots__ = ("typeid", "target")

    def __init__(self, typeid: str, target: str) -> None:
        self.typeid, self.target = typeid, target

    def __repr__(self) -> str:
        return f"<{self.typeid} proxy to {self.target}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SharedRef) and (self.typeid, self.target) == (other.typeid, other.target)

    def __hash__(self) -> int:
        return hash((self.typeid, self.target))

    def __reduce__(self):
        return SharedRef, (self.typeid, self.target)


class Unloadable:
    """A value the server could not unpickle; it keeps only the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<value the dashboard cannot load: {self.reason}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unloadable) and self.reason == other.reason

    def __hash__(self) -> int:
        return hash(self.reason)

    def __reduce__(self):
        return Unloadable, (self.reason,)


class _Pickler(pickle.Pickler):
    """Pickles proxies as SharedRef (exact builtins never reach reducer_override: no cost for them)."""

    def __init__(self, file: io.BytesIO, name_of: Callable[[BaseProxy], str]) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.name_of = name_of

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseProxy):
            return SharedRef, (obj._token.typeid.removeprefix("named_"), self.name_of(obj))
        return NotImplemented


def _token_id(proxy: BaseProxy) -> str:
    return str(proxy._token.id)


def dumps(value: Any, name_of: Callable[[BaseProxy], str] = _token_id) -> bytes:
    """Pickle one value for the journal, proxies inside it replaced by SharedRef."""
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, name_of).dump(value)
    except Exception as exc:  # noqa: BLE001 -- whatever a user's __reduce__ raises
        return dumps(Unloadable(f"cannot pickle {type(value).__name__}: {exc}"[:200]))
    return buffer.getvalue()


def load_arg(arg: Any) -> Any:
    """One argument of a journal entry: a plain scalar as it is, else its pickle loaded."""
    return loads(arg) if type(arg) is bytes else arg


def loads(blob: bytes) -> Any:
    """Unpickle one journalled value, or return an Unloadable saying why not."""
    try:
        return pickle.loads(blob)
    except Exception as exc:  # noqa: BLE001 -- a missing module, class or attribute
        return Unloadable(f"{type(exc).__name__}: {exc}"[:200])
