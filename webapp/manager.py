"""The recording Manager: a SyncManager whose every kind of shared object journals its changes.

The Manager process holds one :class:`~webapp.journal.ChangeJournal` and every shared
object (:mod:`webapp.kinds`). Workers get ordinary proxies; the server gets a proxy to
the journal and blocks on it. The writer's PID is taken from the Unix socket's peer
credentials when a connection arrives, so proxies need no extra arguments and cost
nothing more per call.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import socket
import struct
import threading
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.managers import Server, SyncManager

from sharedstate.journal import ChangeJournal, caller
from sharedstate.kinds import KINDS
from workers.bootstrap import die_with_parent

_journal: ChangeJournal | None = None
_PEERCRED = struct.Struct("3i")


def peer_pid(fileno: int) -> int:
    """Return the PID at the other end of a connected Unix socket."""
    with socket.socket(fileno=os.dup(fileno)) as sock:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    return _PEERCRED.unpack(raw)[0]


class RecordingServer(Server):
    """Manager server that remembers, per connection thread, which process is calling."""

    def handle_request(self, conn) -> None:
        try:
            caller.pid = peer_pid(conn.fileno())
        except OSError:
            caller.pid = 0
        super().handle_request(conn)


def _exit_with_server() -> None:
    """Exit as soon as the server process is gone, even if it was SIGKILLed.

    PDEATHSIG is not enough: our parent is the forkserver, not the server, and the
    forkserver only exits once every process holding its liveness pipe has exited, the
    Manager included. The server's end of our start-up pipe (the parent sentinel)
    closes when the server dies, so a thread waits on it.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="mpscope-server-watch", daemon=True).start()


def _init_journal(version: int, entries: dict, items: list) -> None:
    """Create the Manager process's journal with the built-in ``d`` and ``l``, restoring any state."""
    global _journal
    die_with_parent()
    _exit_with_server()
    os.setpgrp()  # signals sent to the server's process group are for the server to handle
    _journal = ChangeJournal(version=version)
    _journal.named("dict", "d", KINDS["dict"].make, (entries,))
    _journal.named("list", "l", KINDS["list"].make, (items,))


def _get_journal() -> ChangeJournal:
    return _journal


def _create(kind: str, /, *args, **kwargs):
    """Make a new shared object of ``kind`` (``manager.dict()``, ``manager.Queue()``, ...)."""
    return _journal.add(kind, KINDS[kind].make(_journal, *args, **kwargs))


def _named(kind: str, name: str, /, *args):
    """Return the dashboard's shared object ``name``, making it on first use."""
    return _journal.named(kind, name, KINDS[kind].make, args)


JournalProxy_exposed = ("read", "snapshot", "reset_state", "break_lock", "forget_waiter")


class StateManager(SyncManager):
    """SyncManager whose every kind of shared object is recorded in one ChangeJournal."""

    _Server = RecordingServer


StateManager.register("journal", _get_journal, exposed=JournalProxy_exposed)
for _kind in KINDS.values():
    StateManager.register(_kind.name, functools.partial(_create, _kind.name), _kind.proxytype)
    StateManager.register(f"named_{_kind.name}", functools.partial(_named, _kind.name), _kind.proxytype)


def start_manager(
    ctx: BaseContext, version: int = 0, items: list | None = None, entries: dict | None = None
) -> StateManager:
    """Start a Manager process, optionally restoring the built-in dict and list.

    Its authkey is this process's own (random per run, inherited by the workers), as a
    plain ``Manager()``'s is: a proxy read back from inside a shared value (``d["e"] =
    [l]``) connects with the reader's authkey, and a Manager with any other key refuses it.
    """
    manager = StateManager(ctx=ctx)
    manager.start(_init_journal, (version, entries or {}, items or []))
    return manager
