"""The recording Manager: a SyncManager whose shared dict, list and locks journal changes.

The Manager process holds one :class:`~webapp.journal.ChangeJournal` with the shared
dict and list. Workers get ordinary DictProxy/ListProxy/AcquirerProxy objects; the
server gets a proxy to the journal and blocks on it. The writer's PID is taken from the
Unix socket's peer credentials when a connection arrives, so proxies need no extra
arguments and cost nothing more per call.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import struct
import threading
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.managers import AcquirerProxy, DictProxy, ListProxy, Server, SyncManager

from workers.bootstrap import die_with_parent

from .journal import ChangeJournal, ObservedDict, ObservedList, caller

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


def _init_journal(version: int, items: list, entries: dict) -> None:
    """Create the Manager process's journal, restoring any state carried over."""
    global _journal
    die_with_parent()
    _exit_with_server()
    os.setpgrp()  # signals sent to the server's process group are for the server to handle
    _journal = ChangeJournal(version=version)
    _journal.dict = ObservedDict(_journal, entries)
    _journal.list = ObservedList(_journal, items)


def _get_journal() -> ChangeJournal:
    return _journal


def _get_dict() -> ObservedDict:
    return _journal.dict


def _get_list() -> ObservedList:
    return _journal.list


def _get_named_lock(name: str):
    return _journal.named_lock(name)


class SharedListProxy(ListProxy):
    """ListProxy plus ``clear()``, which the stock proxy leaves out."""

    _exposed_ = ListProxy._exposed_ + ("clear",)


JournalProxy_exposed = (
    "read",
    "snapshot",
    "reset_state",
    "lock_names",
    "break_lock",
    "forget_waiter",
    "forget_lock",
    "release_held_by",
)


class StateManager(SyncManager):
    """SyncManager serving the one shared dict, list and named locks of an mpscope run."""

    _Server = RecordingServer


StateManager.register("journal", _get_journal, exposed=JournalProxy_exposed)
StateManager.register("shared_dict", _get_dict, DictProxy)
StateManager.register("shared_list", _get_list, SharedListProxy)
StateManager.register("named_lock", _get_named_lock, AcquirerProxy)


def start_manager(
    ctx: BaseContext, version: int = 0, items: list | None = None, entries: dict | None = None
) -> StateManager:
    """Start a Manager process with a fresh random authkey, optionally restoring state."""
    manager = StateManager(authkey=os.urandom(32), ctx=ctx)
    manager.start(_init_journal, (version, items or [], entries or {}))
    return manager
