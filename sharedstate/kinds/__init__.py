"""The registry of shared-object kinds: every typeid a ``SyncManager`` serves, one entry each.

The Manager's ``register()`` lines (:mod:`webapp.manager`), the server's mirror, the one
replayer (:mod:`sharedstate.replica`), the page (``static/js/kinds/``) and the tests all come
from ``KINDS``. A kind is: its name (the SyncManager typeid), how the Manager makes the
observed object (``make(journal, *args, **kwargs)``), the proxy type clients get, and the
Replica class that encodes and replays its changes. See docs/objects.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from multiprocessing.managers import (
    AcquirerProxy,
    ArrayProxy,
    BarrierProxy,
    ConditionProxy,
    EventProxy,
    NamespaceProxy,
    ValueProxy,
)
from typing import NamedTuple

from .barriers import BarrierReplica, ObservedBarrier
from .base import Replica
from .conditions import ConditionReplica, ObservedCondition
from .dicts import DictReplica, ObservedDict
from .events import EventReplica, ObservedEvent
from .lists import ListReplica, ObservedList
from .locks import LockReplica, RecordedLock
from .namespaces import NamespaceReplica, ObservedNamespace
from .proxies import SharedDictProxy, SharedListProxy
from .queues import ObservedQueue, QueueReplica
from .values import ArrayReplica, ObservedArray, ObservedValue, ValueReplica


class Kind(NamedTuple):
    """One kind of shared object.

    (A NamedTuple, not a dataclass: a watched program's Manager imports this, and
    dataclasses would cost it ~7 ms of imports.)
    """

    name: str
    make: Callable
    proxytype: type | None  # None: an AutoProxy of the object's public methods, as SyncManager's Queue
    replica: type[Replica]


def _plain(cls: type) -> Callable:
    """Make an observed object whose constructor takes the plain type's arguments only."""

    def make(journal, *args, **kwargs):
        return cls(*args, **kwargs)

    return make


def _lock(kind: str) -> Callable:
    return functools.partial(_make_lock, kind)


def _make_lock(kind: str, journal, value: int = 1):
    return RecordedLock(journal, kind, value)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("dict", _plain(ObservedDict), SharedDictProxy, DictReplica),
        Kind("list", _plain(ObservedList), SharedListProxy, ListReplica),
        Kind("Queue", ObservedQueue, None, QueueReplica),
        Kind("JoinableQueue", ObservedQueue, None, QueueReplica),
        Kind("Value", ObservedValue, ValueProxy, ValueReplica),
        Kind("Array", ObservedArray, ArrayProxy, ArrayReplica),
        Kind("Namespace", ObservedNamespace, NamespaceProxy, NamespaceReplica),
        Kind("Lock", _lock("Lock"), AcquirerProxy, LockReplica),
        Kind("RLock", _lock("RLock"), AcquirerProxy, LockReplica),
        Kind("Semaphore", _lock("Semaphore"), AcquirerProxy, LockReplica),
        Kind("BoundedSemaphore", _lock("BoundedSemaphore"), AcquirerProxy, LockReplica),
        Kind("Condition", ObservedCondition, ConditionProxy, ConditionReplica),
        Kind("Event", ObservedEvent, EventProxy, EventReplica),
        Kind("Barrier", ObservedBarrier, BarrierProxy, BarrierReplica),
    ]
}

LOCK_KINDS = ("Lock", "RLock", "Semaphore", "BoundedSemaphore")
