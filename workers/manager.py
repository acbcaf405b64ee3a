"""The dashboard's own Manager: a SyncManager whose every kind of shared object journals its changes.

It records with the same hooks as a watched program's Managers
(:mod:`mpscope_agent.manager_hooks`): each object is made by ``create``, each
connection's writer is taken by ``writer_of`` (the Unix socket's peer credentials, so
proxies need no extra arguments and cost nothing more per call), and the journal is sent
to the dashboard by a ``JournalSender`` over this process's own agent channel, as a
program's Manager sends it. What only this Manager has: the built-in ``d`` and ``l`` and
named objects that tasks share, made on first use, and a proxy to the journal through
which the server resets, releases and forgets (commands, not the feed).

It lives in ``workers``, not ``webapp``: the Manager process and the forkserver that
starts every built-in worker import it, and importing anything under ``webapp`` imports
the web stack (Flask, Socket.IO: 715 modules, 50 MB). A forkserver that large took twice
as long to fork each worker (3.0 vs 1.5 ms a fork), which the spawn figure showed.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.managers import Server, SyncManager

from mpscope_agent import manager_hooks, protocol
from mpscope_agent.channel import Channel
from sharedstate.journal import ChangeJournal, caller
from sharedstate.kinds import KINDS
from workers.bootstrap import die_with_parent

# What the workers' forkserver imports once, so that each worker and the Manager start with
# it: this module and the bootstrap, and nothing under ``webapp`` (tests/test_lean_forkserver.py)
FORKSERVER_PRELOAD = ["workers.bootstrap", "workers.manager"]

_journal: ChangeJournal | None = None


class RecordingServer(Server):
    """Manager server that remembers, per connection thread, which process is calling."""

    def handle_request(self, conn) -> None:
        caller.pid = manager_hooks.writer_of(conn)
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


def _init_journal(version: int, entries: dict, items: list, directory: str, key: str) -> None:
    """Create the Manager process's journal with the built-in ``d`` and ``l``, restoring any
    state, and send it to the dashboard as it records."""
    global _journal
    die_with_parent()
    _exit_with_server()
    os.setpgrp()  # signals sent to the server's process group are for the server to handle
    _journal = ChangeJournal(version=version)
    _journal.named("dict", "d", KINDS["dict"].make, (entries,))
    _journal.named("list", "l", KINDS["list"].make, (items,))
    channel = None
    if directory:  # else read only through the journal's proxy (tests of the Manager alone)
        channel = Channel(directory, key, on_lost=lambda: os._exit(0))  # the server is gone
        channel.connect(protocol.ROLE_DASHBOARD_MANAGER, {})
    manager_hooks.send_journal(_journal, channel)


def _get_journal() -> ChangeJournal:
    return _journal


def _named(kind: str, name: str, /, *args):
    """Return the dashboard's shared object ``name``, making it on first use."""
    return _journal.named(kind, name, KINDS[kind].make, args)


JournalProxy_exposed = (
    "read",
    "snapshot",
    "reset_state",
    "break_lock",
    "forget_waiter",
    "forget_lock",
    "release_held_by",
)


class StateManager(SyncManager):
    """SyncManager whose every kind of shared object is recorded in one ChangeJournal."""

    _Server = RecordingServer


StateManager.register("journal", _get_journal, exposed=JournalProxy_exposed)
for _kind in KINDS.values():
    # plain=None: every typeid here is a recording kind (a program's registry passes its own)
    StateManager.register(
        _kind.name, functools.partial(manager_hooks.create, _kind.name, None), _kind.proxytype
    )
    StateManager.register(f"named_{_kind.name}", functools.partial(_named, _kind.name), _kind.proxytype)


def start_manager(
    ctx: BaseContext,
    agents: tuple[str, str] = ("", ""),
    version: int = 0,
    items: list | None = None,
    entries: dict | None = None,
) -> StateManager:
    """Start a Manager process that reports to the agents' ``(directory, key)``, optionally
    restoring the built-in dict and list.

    Its authkey is this process's own (random per run, inherited by the workers), as a
    plain ``Manager()``'s is: a proxy read back from inside a shared value (``d["e"] =
    [l]``) connects with the reader's authkey, and a Manager with any other key refuses it.
    """
    manager = StateManager(ctx=ctx)
    manager.start(_init_journal, (version, entries or {}, items or [], *agents))
    return manager
