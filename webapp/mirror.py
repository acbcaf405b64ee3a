"""The server's copy of the shared state, kept current by replaying journal entries.

Snapshots for new clients and ``GET /api/state`` are served from here, so they never
touch the Manager, and if the Manager dies this copy is what the next one starts from.
Applying an entry costs the same whatever the size of the state (list inserts and
deletes aside, which cost what they cost on a list).
"""

from __future__ import annotations

import threading
from typing import Any

from .encoding import encode, encode_list, encode_pairs


class SharedStateMirror:
    """Versioned copy of the shared dict, list and lock table."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = 0
        self.items: list = []
        self.entries: dict = {}
        self.locks: dict[str, dict] = {}
        # who wrote each entry last, so a page opened later can still say "by PID"
        self.item_writers: list = []
        self.entry_writers: dict = {}

    def load(self, version: int, items: list, entries: dict, locks: dict) -> None:
        """Replace the whole copy with a consistent snapshot from the Manager."""
        with self.lock:
            self.version, self.items, self.entries = version, items, entries
            self.locks = {name: dict(info) for name, info in locks.items()}
            self.item_writers = [None] * len(items)
            self.entry_writers = {}

    def apply(self, journal_entries: list) -> list[dict]:
        """Replay journal entries in order; return them encoded as ``changes`` ops."""
        ops = []
        with self.lock:
            for seq, target, op, args, pid, t in journal_entries:
                if seq <= self.version:
                    continue  # already contained in the snapshot we loaded
                self.version = seq
                fields = getattr(self, f"_{target}_{op}")(args, pid, t)
                ops.append({"seq": seq, "target": target, "op": op, "pid": pid, "t": t, **fields})
        return ops

    def snapshot(self) -> dict[str, Any]:
        """Return the encoded state: ``{"version", "list", "dict", "locks"}``."""
        with self.lock:
            return {
                "version": self.version,
                "list": encode_list(self.items),
                "dict": encode_pairs(self.entries),
                "locks": [dict(info) for info in self.locks.values()],
                "writers": {
                    "list": list(self.item_writers),
                    "dict": [self.entry_writers.get(k) for k in self.entries],
                },
            }

    def snapshot_locks(self) -> list[dict]:
        with self.lock:
            return [{**info, "waiters": list(info["waiters"])} for info in self.locks.values()]

    def raw(self) -> tuple[int, list, dict]:
        """Return copies of the real values, to restore them into a new Manager."""
        with self.lock:
            return self.version, list(self.items), dict(self.entries)

    # -- dict ------------------------------------------------------------------
    def _dict_set(self, args, pid, t):
        key, value = args
        self.entries[key] = value
        self.entry_writers[key] = pid
        return {"key": encode(key), "value": encode(value)}

    def _dict_del(self, args, pid, t):
        self.entries.pop(args[0], None)
        self.entry_writers.pop(args[0], None)
        return {"key": encode(args[0])}

    def _dict_clear(self, args, pid, t):
        self.entries.clear()
        self.entry_writers.clear()
        return {}

    # -- list ------------------------------------------------------------------
    def _list_append(self, args, pid, t):
        self.items.append(args[0])
        self.item_writers.append(pid)
        return {"value": encode(args[0])}

    def _list_extend(self, args, pid, t):
        self.items.extend(args[0])
        self.item_writers.extend([pid] * len(args[0]))
        return {"values": encode_list(args[0])}

    def _list_insert(self, args, pid, t):
        index, value = args
        self.items.insert(index, value)
        self.item_writers.insert(index, pid)
        return {"index": index, "value": encode(value)}

    def _list_set(self, args, pid, t):
        index, value = args
        self.items[index] = value
        self.item_writers[index] = pid
        return {"index": index, "value": encode(value)}

    def _list_del(self, args, pid, t):
        del self.items[args[0]]
        del self.item_writers[args[0]]
        return {"index": args[0]}

    def _list_clear(self, args, pid, t):
        self.items.clear()
        self.item_writers.clear()
        return {}

    def _list_replace(self, args, pid, t):
        self.items = list(args[0])
        self.item_writers = [pid] * len(self.items)
        return {"values": encode_list(self.items)}

    # -- locks -----------------------------------------------------------------
    def _lock_info(self, name: str) -> dict:
        info = self.locks.get(name)
        if info is None:
            info = {"name": name, "holder_pid": None, "held_since": None, "waiters": []}
            self.locks[name] = info
        return info

    def _lock_wait(self, args, pid, t):
        self._lock_info(args[0])["waiters"].append(pid)
        return {"name": args[0]}

    def _lock_gave_up(self, args, pid, t):
        waiters = self._lock_info(args[0])["waiters"]
        if pid in waiters:
            waiters.remove(pid)
        return {"name": args[0]}

    def _lock_acquire(self, args, pid, t):
        info = self._lock_info(args[0])
        if pid in info["waiters"]:
            info["waiters"].remove(pid)
        info.update(holder_pid=pid, held_since=t)
        return {"name": args[0]}

    def _lock_release(self, args, pid, t):
        self._lock_info(args[0]).update(holder_pid=None, held_since=None)
        return {"name": args[0]}

    _lock_break = _lock_release

    def _lock_forget(self, args, pid, t):
        self.locks.pop(args[0], None)
        return {"name": args[0]}
