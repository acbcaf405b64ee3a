"""ProgramObjects: the shared objects of every Manager the watched program starts, as one feed.

Each Manager process's agent sends its journal in batches (``journal``), or, when it fell
behind further than its journal keeps, every object as it is now (``journal_snapshot``).
Entries are renumbered into the dashboard's one version sequence and their object ids
prefixed with the Manager's PID, ``PID:ID`` (ids are unique across Managers), then replayed into
the mirror and broadcast as ``changes``, as the built-in Manager's feed does. Everything
runs on the agents' listener thread: changes flow one way, in the order each Manager
applied them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import pickle
import threading
from collections.abc import Callable

from ..mirror import SharedStateMirror

logger = logging.getLogger(__name__)


class ProgramObjects:
    """Feeds the program's Managers' journals into one mirror and out to the clients."""

    def __init__(self, mirror: SharedStateMirror, emit_changes: Callable[[dict], None]) -> None:
        self.mirror = mirror
        self.emit_changes = emit_changes
        self.lock = threading.Lock()
        self.applied: dict[int, int] = {}  # Manager PID -> the last of its versions applied

    def journal(self, manager_pid: int, wire: str) -> None:
        """Apply a batch of one Manager's journal entries (as its agent sends them)."""
        entries = self._load(manager_pid, wire)
        with self.lock:
            batch = []
            for seq, oid, op, args, writer, t in entries:
                if seq <= self.applied.get(manager_pid, 0):
                    continue
                self.applied[manager_pid] = seq
                batch.append((oid, op, args, writer, t))
            self._apply(manager_pid, batch)

    def journal_snapshot(self, manager_pid: int, version: int, wire: str) -> None:
        """Replace every object of one Manager with its current value (it overflowed)."""
        objects = self._load(manager_pid, wire)
        with self.lock:
            self.applied[manager_pid] = version
            batch = [
                (oid, "create", (pickle.dumps(kind), pickle.dumps(label), blob), 0, None)
                for oid, kind, label, blob in objects
            ]
            self._apply(manager_pid, batch)

    @staticmethod
    def _load(manager_pid: int, wire: str) -> list:
        # The agent pickles what the program's Manager journalled; the channel it comes over
        # is private (a 0700 directory) and the agent proved it holds the run's key.
        try:
            return pickle.loads(base64.b64decode(wire))
        except (TypeError, ValueError, binascii.Error, pickle.UnpicklingError, EOFError):
            logger.warning("a malformed journal batch from Manager %d was skipped", manager_pid)
            return []

    def _apply(self, manager_pid: int, batch: list) -> None:
        if not batch:
            return
        first = self.mirror.version
        entries = [
            (first + i + 1, f"{manager_pid}:{oid}", op, args, writer, t)
            for i, (oid, op, args, writer, t) in enumerate(batch)
        ]
        ops = self.mirror.apply(entries, manager_pid=manager_pid)
        if ops:
            self.emit_changes({"from": first, "to": ops[-1]["seq"], "ops": ops})
