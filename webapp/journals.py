"""ManagerJournals: the shared objects of every recording Manager, as one feed.

Each Manager process's agent sends its journal in batches (``journal``), or, when it fell
behind further than its journal keeps, every object as it is now (``journal_snapshot``):
the dashboard's own Manager and every Manager a watched program starts, alike. Entries
are renumbered into the dashboard's one version sequence and, for a program's Managers,
their object ids prefixed with the Manager's PID, ``PID:ID`` (ids are unique across
Managers; the dashboard's own Manager keeps its ids, ``d``, ``l``, ``lock:NAME``), then
replayed into the mirror and broadcast as ``changes``. Everything runs on the agents'
listener thread: changes flow one way, in the order each Manager applied them.

While nobody watches (no page connected or joining), batches are held as they came, up to
``HOLD_BYTES``, and replayed in order when someone reads the mirror (a page joining, a REST
read), when the Managers have been quiet for ``QUIET``, or when the hold is full. Replaying
costs the dashboard a few microseconds of CPU per op, which a Manager-heavy program on a
busy machine would otherwise pay in its own wall time for a page nobody has open; what is
read is the same either way. Each Manager's agent is told the same (``pace``): while
nobody watches it sends fewer, larger batches, and as soon as someone does, every change.
"""

from __future__ import annotations

import base64
import binascii
import collections
import logging
import pickle
import threading
import time
from collections.abc import Callable

from .mirror import SharedStateMirror
from .priority import lower_priority

logger = logging.getLogger(__name__)

HOLD_BYTES = 8 * 2**20  # of batches held while nobody watches: ~160,000 small ops (~0.5 s to replay)
QUIET = 0.25  # seconds without a batch after which what is held is replayed anyway


class ManagerJournals:
    """Feeds every recording Manager's journal into one mirror and out to the clients."""

    def __init__(
        self,
        mirror: SharedStateMirror,
        emit_changes: Callable[[dict], None],
        watched: Callable[[], bool] = lambda: True,
        nice: bool = True,
    ) -> None:
        """``nice``: the replay of held batches yields the cores to the program (priority.py)."""
        self.mirror = mirror
        self.nice = nice
        self.emit_changes = emit_changes
        self.watched = watched
        self.lock = threading.RLock()
        self.applied: dict[int, int] = {}  # Manager PID -> the last of its versions applied
        self.held: collections.deque[tuple[int, dict, int]] = collections.deque()  # (PID, message, size)
        self.held_bytes = 0
        self.last_held = 0.0
        self.settle = threading.Condition(self.lock)
        self.closing = False
        self.tell: Callable[[int, dict], bool] = lambda manager_pid, message: False  # to its agent
        self.slow: set[int] = set()  # Managers told that nobody watches
        self.told: set[int] = set()  # Managers told anything (their first batch asks)
        self.own: set[int] = set()  # the dashboard's own Manager(s): ids and versions kept as they are
        self.reloaded: Callable[[], None] = lambda: None  # the mirror was loaded anew: resync clients
        mirror.before_read = self.catch_up
        threading.Thread(target=self._replay_when_quiet, name="mpscope-objects", daemon=True).start()

    def adopt(self, manager_pid: int, version: int) -> None:
        """``manager_pid`` is the dashboard's own Manager, whose objects the mirror loaded at
        ``version``: its ids stay as they are, and what it sends up to there is known."""
        with self.lock:
            self.own.add(manager_pid)
            self.applied[manager_pid] = version

    def forget(self, manager_pid: int) -> None:
        """A Manager is gone (replaced, for the dashboard's own)."""
        with self.lock:
            self.own.discard(manager_pid)
            self.applied.pop(manager_pid, None)
            self.slow.discard(manager_pid)
            self.told.discard(manager_pid)

    def receive(self, manager_pid: int, message: dict) -> None:
        """A ``journal`` or ``journal_snapshot`` message from a Manager's agent."""
        with self.lock:
            size = len(message.get("entries") or message.get("objects") or "")
            watched = self.watched()
            # tell this Manager whether anyone watches: if it was told nothing yet, or the opposite
            if manager_pid not in self.told or (manager_pid in self.slow) == (
                watched or manager_pid in self.own
            ):
                self._pace(manager_pid, watched)
            if not watched and self.held_bytes + size <= HOLD_BYTES:
                self.held.append((manager_pid, message, size))
                self.held_bytes += size
                self.last_held = time.monotonic()
                if len(self.held) == 1:
                    self.settle.notify()
                return
            self._replay_held()
            self._replay(manager_pid, message)

    def catch_up(self) -> None:
        """Replay what is held, before the mirror is read."""
        # Read without the lock: nothing is held while anyone watches. A batch leaves
        # ``held`` only once it is applied, so a reader that comes during a replay waits
        # for the end of it here.
        if self.held or (self.slow and self.watched()):
            with self.lock:
                self._replay_held()
                if self.watched():  # a page is joining: every Manager sends what it has, now
                    for manager_pid in list(self.slow):
                        self._pace(manager_pid, True)

    def _pace(self, manager_pid: int, watched: bool) -> None:
        # The dashboard's own Manager always sends at once: its commands (a lock's Release,
        # a reset) act on what the mirror shows, which must not lag its Manager by a slow pace.
        watched = watched or manager_pid in self.own
        self.told.add(manager_pid)
        if watched:
            self.slow.discard(manager_pid)
        else:
            self.slow.add(manager_pid)
        self.tell(manager_pid, {"t": "pace", "watched": watched})

    def close(self) -> None:
        with self.lock:
            self.closing = True
            self.settle.notify()

    def _replay_when_quiet(self) -> None:
        if self.nice:
            lower_priority()
        with self.lock:
            while not self.closing:
                quiet_for = time.monotonic() - self.last_held
                if not self.held:
                    self.settle.wait()
                elif quiet_for < QUIET:
                    self.settle.wait(QUIET - quiet_for)
                else:
                    self._replay_held()

    def _replay_held(self) -> None:
        while self.held:
            manager_pid, message, size = self.held[0]
            try:
                self._replay(manager_pid, message)
            except Exception:  # one bad batch must not stop every later read
                logger.exception("a journal batch from Manager %d could not be replayed", manager_pid)
            finally:
                self.held.popleft()
                self.held_bytes -= size

    def _replay(self, manager_pid: int, message: dict) -> None:
        if message["t"] == "journal":
            self.journal(manager_pid, message["entries"])
        else:
            self.journal_snapshot(manager_pid, int(message.get("version") or 0), message["objects"])

    def journal(self, manager_pid: int, wire: str) -> None:
        """Apply a batch of one Manager's journal entries (as its agent sends them)."""
        entries = self._load(manager_pid, wire)
        with self.lock:
            # in the Manager's order: skip what a snapshot of it already brought
            last = self.applied.get(manager_pid, 0)
            start = next((i for i, entry in enumerate(entries) if entry[0] > last), len(entries))
            if start < len(entries):
                self.applied[manager_pid] = entries[-1][0]
                self._apply(manager_pid, entries[start:] if start else entries)

    def journal_snapshot(self, manager_pid: int, version: int, wire: str) -> None:
        """Replace every object of one Manager with its current value (it overflowed)."""
        objects = self._load(manager_pid, wire)
        with self.lock:
            self.applied[manager_pid] = version
            if manager_pid in self.own:  # the mirror is this Manager's objects, at its versions
                self.mirror.load(version, objects)
                self.reloaded()
                return
            # as the journal carries a create: kind and label (strings) as they are, the value pickled
            batch = [
                (version, oid, "create", (kind, label, value), 0, None) for oid, kind, label, value in objects
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

    def apply_native(self, batch: list) -> None:
        """Apply ops on the program's own multiprocessing locks (NativeLocks), in the one order."""
        with self.lock:
            self._apply(None, batch, origin="native")

    def _apply(self, manager_pid: int | None, batch: list, origin: str = "manager") -> None:
        """Renumber ``batch`` (journal entries of one Manager) into the mirror's versions, apply it.

        The dashboard's own Manager is the mirror's only source in its mode: its entries
        keep their versions, which every command that returns one (reset) speaks in. A
        program's Managers' ids are prefixed with the Manager's PID; native locks (no
        Manager: ``manager_pid`` None) keep theirs.
        """
        if not batch:
            return
        first = self.mirror.version
        if manager_pid in self.own:  # its versions are the mirror's: as they are
            ops = self.mirror.apply(batch)
        else:
            prefix = "" if manager_pid is None else f"{manager_pid}:"
            entries = [
                (first + i, prefix + oid, op, args, writer, t)
                for i, (_, oid, op, args, writer, t) in enumerate(batch, 1)
            ]
            ops = self.mirror.apply(entries, manager_pid=manager_pid, origin=origin)
        if ops:
            self.emit_changes({"from": first, "to": ops[-1]["seq"], "ops": ops})
