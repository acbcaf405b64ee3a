"""The registry of shared-object kinds: every typeid a ``SyncManager`` serves, one entry each.

The Manager's ``register()`` lines (:mod:`webapp.manager`), the server's mirror, the one
replayer (:mod:`sharedstate.replica`), the page (``static/js/kinds/``) and the tests all come
from ``KINDS``. A kind is: its name (the SyncManager typeid), how the Manager makes the
observed object (``make(journal, *args, **kwargs)``), the proxy type clients get, and the
Replica class that encodes and replays its changes. See docs/objects.md.
"""

from __future__ import annotations

import collections
import functools
from multiprocessing.managers import (
    AcquirerProxy,
    ArrayProxy,
    BarrierProxy,
    ConditionProxy,
    EventProxy,
    NamespaceProxy,
    ValueProxy,
)

from .base import Replica

__all__ = ["KINDS", "LOCK_KINDS", "Kind", "Replica", "kind_for", "replica_for"]


TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Kind(collections.namedtuple("Kind", "name make proxytype replica")):
    """One kind of shared object: its typeid ``name``, ``make(journal, *args, **kwargs)``,
    its ``proxytype`` (None: an AutoProxy of the object's public methods, as SyncManager's
    Queue) and its ``replica`` class.

    (A plain namedtuple, not a dataclass or typing.NamedTuple: a watched program's Manager
    imports this, and those would cost it ~7 ms and ~3 ms of imports.)
    """

    __slots__ = ()


def _plain(cls: type) -> Callable:
    """Make an observed object whose constructor takes the plain type's arguments only."""

    def make(journal, *args, **kwargs):
        return cls(*args, **kwargs)

    return make


# Each family of kinds is imported when first asked for: a watched program's Manager that
# serves a dict and a list imports those two modules, not the twelve (~8 ms on a slow
# machine, paid inside the program's own time).
def _dicts() -> list[Kind]:
    from .dicts import DictReplica, ObservedDict
    from .proxies import SharedDictProxy

    return [Kind("dict", _plain(ObservedDict), SharedDictProxy, DictReplica)]


def _lists() -> list[Kind]:
    from .lists import ListReplica, ObservedList
    from .proxies import SharedListProxy

    return [Kind("list", _plain(ObservedList), SharedListProxy, ListReplica)]


def _queues() -> list[Kind]:
    from .queues import ObservedQueue, QueueReplica

    return [
        Kind("Queue", ObservedQueue, None, QueueReplica),
        Kind("JoinableQueue", ObservedQueue, None, QueueReplica),
    ]


def _values() -> list[Kind]:
    from .values import ArrayReplica, ObservedArray, ObservedValue, ValueReplica

    return [
        Kind("Value", ObservedValue, ValueProxy, ValueReplica),
        Kind("Array", ObservedArray, ArrayProxy, ArrayReplica),
    ]


def _namespaces() -> list[Kind]:
    from .namespaces import NamespaceReplica, ObservedNamespace

    return [Kind("Namespace", ObservedNamespace, NamespaceProxy, NamespaceReplica)]


def _locks() -> list[Kind]:
    from .locks import LockReplica

    return [
        Kind(name, functools.partial(_make_lock, name), AcquirerProxy, LockReplica) for name in LOCK_KINDS
    ]


def _make_lock(kind: str, journal, value: int = 1):
    from .locks import RecordedLock

    return RecordedLock(journal, kind, value)


def _conditions() -> list[Kind]:
    from .conditions import ConditionReplica, ObservedCondition

    return [Kind("Condition", ObservedCondition, ConditionProxy, ConditionReplica)]


def _events() -> list[Kind]:
    from .events import EventReplica, ObservedEvent

    return [Kind("Event", ObservedEvent, EventProxy, EventReplica)]


def _barriers() -> list[Kind]:
    from .barriers import BarrierReplica, ObservedBarrier

    return [Kind("Barrier", ObservedBarrier, BarrierProxy, BarrierReplica)]


LOCK_KINDS = ("Lock", "RLock", "Semaphore", "BoundedSemaphore")
# every SyncManager typeid recorded, in the order the page lists them, and its family
_FAMILIES: dict[str, Callable[[], list[Kind]]] = {
    "dict": _dicts,
    "list": _lists,
    "Queue": _queues,
    "JoinableQueue": _queues,
    "Value": _values,
    "Array": _values,
    "Namespace": _namespaces,
    **dict.fromkeys(LOCK_KINDS, _locks),
    "Condition": _conditions,
    "Event": _events,
    "Barrier": _barriers,
}
_loaded: dict[str, Kind] = {}


def kind_for(typeid: str) -> Kind | None:
    """The kind called ``typeid`` (its family imported now if not yet), or None."""
    kind = _loaded.get(typeid)
    if kind is None and typeid in _FAMILIES:
        _loaded.update((k.name, k) for k in _FAMILIES[typeid]())
        kind = _loaded[typeid]
    return kind


def replica_for(kind: str, origin: str | None = "manager") -> type[Replica]:
    """The Replica class of an object of ``kind``: the program's own (``native``) objects other
    than locks are sampled, their value replaced whole (:mod:`.sampled`); a kind no Manager
    serves (a ``Pipe``, ``SharedMemory``) is always a native one."""
    if (origin == "native" and kind not in LOCK_KINDS) or kind not in _FAMILIES:
        from .sampled import SampledReplica

        return SampledReplica
    return kind_for(kind).replica


def __getattr__(name: str):
    # KINDS, every kind by typeid, imports them all: for the server, tests and tools
    if name == "KINDS":
        kinds = {typeid: kind_for(typeid) for typeid in _FAMILIES}
        globals()["KINDS"] = kinds
        return kinds
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
