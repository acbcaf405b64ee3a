"""The program's own multiprocessing objects (not a Manager's), shown as shared objects.

:class:`NativeLocks` (``locks``) replays the program's locks as lock ops, so the Lock
panels, deadlock cycles and dead holders serve both origins; :class:`NativeObjects`
(``objects``) merges every process's facts about the other kinds into one value each.
Each kind's merger lives in its own module, imported here so that it is registered.
"""

from . import condition, memory, pipes, queues, sync, values  # noqa: E402,F401 -- register their mergers
from .locks import NativeLocks
from .objects import MERGERS, NativeObjects, merger

__all__ = ["MERGERS", "NativeLocks", "NativeObjects", "merger"]
