"""Manager hooks: every Manager the program starts records its shared objects and streams the changes.

Three patches to ``multiprocessing.managers``, made when the program imports it:

* ``SyncManager``'s registry makes each kind of shared object through :func:`create`,
  which makes the recording type of :mod:`sharedstate.kinds` (same behaviour, same
  errors, same proxy types) and registers it in this Manager process's one journal.
* ``Server.handle_request`` notes which process each connection serves (the Unix
  socket's peer credentials; for a TCP client, its ``host:port``), so every op carries
  its writer.
* ``BaseManager._create``, in the process that calls ``manager.dict()``, passes the
  program line that made the object as its label (``d = manager.dict()  · train.py:17``).

A raw thread in the Manager process reads the journal and sends each batch to the
dashboard over this process's agent connection. Nothing is sent when no dashboard
listens: the program goes on unwatched.
"""

from __future__ import annotations

import _thread
import base64
import functools
import linecache
import os
import socket
import struct
import sys

from sharedstate.journal import ChangeJournal, caller
from sharedstate.kinds import KINDS

LABEL = "_mpscope_label"  # the keyword that carries a label from the caller to create()
OWN_DIRS = (os.sep + "multiprocessing" + os.sep, os.sep + "mpscope_agent" + os.sep)
_PEERCRED = struct.Struct("3i")
BATCH = 2000

_journal: ChangeJournal | None = None
_channel = None


def create(kind: str, /, *args, **kwargs):
    """Make a recording shared object of ``kind`` (what the Manager's registry calls)."""
    label = kwargs.pop(LABEL, None)
    journal = _journal_here()
    return journal.add(kind, KINDS[kind].make(journal, *args, **kwargs), label=label)


def _journal_here() -> ChangeJournal:
    """This Manager process's journal, made (and its sender started) on first use."""
    global _journal
    if _journal is None:
        _journal = ChangeJournal()
        _thread.start_new_thread(_send_journal, (_journal,))
    return _journal


def _send_journal(journal: ChangeJournal) -> None:
    """Forever: wait for journal entries and send them to the dashboard in batches."""
    after = 0
    while True:
        status, entries = journal.read(after, timeout=5.0, limit=BATCH)
        if status == "overflow":
            # we fell behind further than the journal keeps: send every object as it is now
            version, objects = journal.snapshot()
            _send(
                {"t": "journal_snapshot", "version": version, "objects": [_wire_object(o) for o in objects]}
            )
            after = version
            continue
        if entries:
            _send({"t": "journal", "entries": [_wire_entry(e) for e in entries]})
            after = entries[-1][0]


def release(request: dict) -> None:
    """The dashboard's Release: free a lock-like object on behalf of its holder, which died."""
    if _journal is not None and isinstance(request.get("oid"), str) and isinstance(request.get("pid"), int):
        _journal.break_lock(request["oid"], request["pid"])


def _send(message: dict) -> None:
    if _channel is not None:
        _channel.send(message)


def _wire_entry(entry: tuple) -> list:
    seq, oid, op, blobs, pid, t = entry
    return [seq, oid, op, [base64.b64encode(b).decode() for b in blobs], pid, t]


def _wire_object(obj: tuple) -> list:
    oid, kind, label, blob = obj
    return [oid, kind, label, base64.b64encode(blob).decode()]


# -- who is calling ------------------------------------------------------------------
def writer_of(conn) -> int | str:
    """The PID at the other end of a Manager connection, or ``host:port`` for a TCP client."""
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except (OSError, AttributeError):
        return 0
    with sock:
        try:
            if sock.family == socket.AF_UNIX:
                raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
                return _PEERCRED.unpack(raw)[0]
            host, port = sock.getpeername()[:2]
            return f"{host}:{port}"
        except OSError:
            return 0


def creation_label(typeid: str) -> str:
    """``source line  · file.py:LINE`` of the program line that is making a shared object."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(d in name for d in OWN_DIRS) and not name.startswith("<frozen"):
            line = linecache.getline(name, frame.f_lineno).split("  #")[0].strip() or f"manager.{typeid}()"
            return f"{line}  · {os.path.basename(name)}:{frame.f_lineno}"
        frame = frame.f_back
    return f"manager.{typeid}()"


# -- the patches -------------------------------------------------------------------------
def patch_managers(module, channel) -> None:
    """Make ``multiprocessing.managers`` record (see the module docstring)."""
    global _channel
    _channel = channel
    channel.handlers["release"] = release
    registry = module.SyncManager._registry
    for name in KINDS:
        if name in registry:
            _callable, exposed, method_to_typeid, proxytype = registry[name]
            registry[name] = (functools.partial(create, name), exposed, method_to_typeid, proxytype)

    handle_request = module.Server.handle_request

    @functools.wraps(handle_request)
    def recording_handle_request(self, conn):
        caller.pid = writer_of(conn)
        return handle_request(self, conn)

    module.Server.handle_request = recording_handle_request

    make = module.BaseManager._create

    @functools.wraps(make)
    def labelled_create(self, typeid, /, *args, **kwds):
        entry = self._registry.get(typeid)
        recording = entry is not None and getattr(entry[0], "func", None) is create
        # only a Manager this program started runs our registry; one it connected to may not
        if recording and getattr(self, "_process", None) is not None:
            kwds[LABEL] = creation_label(typeid)
        return make(self, typeid, *args, **kwds)

    module.BaseManager._create = labelled_create
