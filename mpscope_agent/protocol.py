"""The one protocol between a process mpscope watches and the dashboard: message types and framing.

Every process that reports to the dashboard — a built-in worker, a watched program's
process, its Manager servers — speaks it over its own Unix socket connection, one JSON
object per line, its type under ``"t"``. Both ends import this module (the agent copies
it into the program's boot directory), so a type is named in one place. The ``hello``
carries :data:`VERSION`; the dashboard refuses an agent of another version rather than
misread it.

From a process to the dashboard:

=================== ==========================================================================
``hello``           first message: ``key``, ``v``, ``pid``, ``ppid``, ``name``, ``role``,
                    ``streams`` (the names of the pipe read ends passed with it), ``time``
``proc``            a parent started child ``pid``: its ``ppid`` (the sender, or the forkserver
                    that forked it), ``name`` and ``role``
``exit``            a parent reaped child ``pid``: its exit ``code`` (negative: the signal)
``error``           this process's task failed: ``traceback``, ``manager_lost`` (its Manager died)
``native``          the program's own multiprocessing objects: ``objects`` made here, not told
                    before (``oid``, ``kind``, ``label``, a lock's ``initial``), the locks ``held``
                    now (``{oid: depth}``) and the other objects' ``facts`` that changed
                    (``{oid: {...}}``: this process's part, per kind, see native_objects)
``stack``           the answer to a stack request: ``id``, ``threads``
``wait``            what this process now waits on (``waiting``: ``call``, ``object``,
                    ``where``, ``text``, ``since``), or null once it runs again
``task``            a Pool / ProcessPoolExecutor task event (see ``pool_hooks``): ``ev``,
                    ``kind``, ``owner``, ``job``, ``i`` (the chunk), ``time`` and what the
                    event knows; the parent's ``queued`` and ``callback`` events
                    come in batches: ``tasks``, each ``[job, i, time]``, sharing the rest
``pool``            a pool's ``label`` and its worker ``pids``
``journal``         a batch of a Manager's journal entries (``entries``: base64 pickle)
``journal_snapshot`` a Manager's objects as they are (``version``, ``objects``)
``lab``             a lab run's report: ``run``, ``seq`` (its place in the run's one order),
                    ``kind`` ``event`` (``event``), ``out`` (``pid``, ``ppid``, ``tid``,
                    ``time``, ``stream``, ``text``) or ``result`` (``key``, encoded ``value``)
=================== ==========================================================================

From the dashboard to a process: ``stack`` (``id``), ``pace`` (``watched``: a page is
open), ``release`` (``oid``, ``pid``: release a lock-like object for its dead holder),
``release_native`` (``oid``: release one of the program's multiprocessing locks, whose
holder died).
"""

from __future__ import annotations

import json

VERSION = 1

HELLO = "hello"
PROC = "proc"
EXIT = "exit"
ERROR = "error"
STACK = "stack"
WAIT = "wait"
NATIVE = "native"
TASK = "task"
TASKS = "tasks"  # a worker's task log: {"t": "tasks", "events": [task messages]} (task_log.py)
POOL = "pool"
JOURNAL = "journal"
JOURNAL_SNAPSHOT = "journal_snapshot"
PACE = "pace"
RELEASE = "release"
LAB = "lab"
RELEASE_NATIVE = "release_native"

# The role in the hello of the dashboard's own Manager: its journal is the built-in
# objects, and it is not one of the processes the table lists (the page shows it apart).
ROLE_DASHBOARD_MANAGER = "dashboard-manager"


def line(message: dict) -> bytes:
    """One message as sent: a JSON line (a value JSON cannot carry goes as its repr)."""
    return json.dumps(message, default=repr).encode() + b"\n"


def parse(raw: bytes) -> dict | None:
    """One received line as a message, or None if it is not one (never raises)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
