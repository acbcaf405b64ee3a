"""Client-side proxies for the dict and list kinds, mending two gaps of the stock ones.

* ``ListProxy`` has no ``clear()`` (adding the name to ``_exposed_`` does not create the method).
* ``DictProxy.__iter__`` returns a proxy to an iterator, which the stock proxy builds from
  its manager's registry; a proxy passed to a child process has no manager, so ``for k in
  d`` raised AttributeError there. A child's proxy gets the one registry entry it needs.
"""

from __future__ import annotations

from multiprocessing.managers import DictProxy, IteratorProxy, ListProxy, State

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _IteratorRegistry:
    """Stands in for a manager where a proxy has none: enough to build an IteratorProxy."""

    _registry = {"Iterator": (None, None, None, IteratorProxy)}
    _state = State()
    _state.value = State.STARTED


class SharedDictProxy(DictProxy):
    def __iter__(self) -> Any:
        # a proxy unpickled in a child, or whose process forked, has no manager (_after_fork)
        if self._manager is None:
            self._manager = _IteratorRegistry
        return self._callmethod("__iter__")


class SharedListProxy(ListProxy):
    _exposed_ = ListProxy._exposed_ + ("clear",)

    def clear(self) -> None:
        return self._callmethod("clear")
