"""Manager hooks: every Manager the program starts records its shared objects and streams the changes.

Three patches to ``multiprocessing.managers``, made when the program imports it:

* ``SyncManager``'s registry makes each kind of shared object through :func:`create`,
  which makes the recording type of :mod:`sharedstate.kinds` (same behaviour, same
  errors, same proxy types) and registers it in this Manager process's one journal.
* ``Server.serve_client`` and ``Server.create`` note which process each connection
  serves (:mod:`mpscope_agent.peers`), so every op carries its writer: only once the
  connection passed the authkey challenge.
* ``BaseManager._create``, in the process that calls ``manager.dict()``, passes the
  program line that made the object as its label (``d = manager.dict()  · train.py:17``).
* ``Server.create`` serves a plain ``queue.Queue`` that the program registered itself
  (the docs' remote manager: ``register('get_queue', callable=lambda: queue)``) through
  a :class:`QueueTap` that records what its clients put and get.

A raw thread in the Manager process reads the journal and sends each batch to the
dashboard over this process's agent connection. Nothing is sent when no dashboard
listens: the program goes on unwatched. While no page is open the dashboard asks for
its batches at a slower pace (``pace``): fewer, larger batches cost the program's
Manager less.
"""

from __future__ import annotations

import _thread
import base64
import collections
import functools
import linecache
import os
import pickle
import queue
import sys
from multiprocessing.util import Finalize

from .bound_names import bound_name
from .peers import writer_of

TYPE_CHECKING = False  # not typing's: importing typing cost the program ~3 ms at its Manager()
if TYPE_CHECKING:
    from sharedstate.journal import ChangeJournal

LABEL = "_mpscope_label"  # the keyword that carries a label from the caller to create()
OWN_DIRS = (os.sep + "multiprocessing" + os.sep, os.sep + "mpscope_agent" + os.sep)
BATCH = 5000
GAP = 0.004  # as the dashboard's own feed: a steady trickle is sent at most every 4 ms
UNWATCHED_GAP = 0.1  # while no page is open (the dashboard says so): a third of the sender's CPU

_sender: JournalSender | None = None  # this Manager process's, with its journal, once it records
_channel = None


def create(typeid: str, plain, /, *args, **kwargs):
    """What the Manager's registry calls: a recording shared object if ``typeid`` is a kind
    of :mod:`sharedstate.kinds`, else what ``plain`` (the registry's own callable) makes."""
    label = kwargs.pop(LABEL, None)
    types = recording_types()
    kind = types and types.kind_for(typeid)
    if not kind:
        return plain(*args, **kwargs)
    journal = _journal_here()
    return journal.add(typeid, kind.make(journal, *args, **kwargs), label=label)


_RecordingTypes = collections.namedtuple("_RecordingTypes", "kind_for ChangeJournal caller")


_types: _RecordingTypes | None | bool = None  # False: not importable here


def recording_types() -> _RecordingTypes | None:
    """mpscope's recording types, imported on first use; None where the program has a module
    called ``sharedstate`` of its own (its Managers then run unrecorded, not broken).

    Imported in a Manager process, on its first request: the program's other processes
    import multiprocessing.managers too (a child unpickling a proxy does), and must not pay
    for the recording types they never run.
    """
    global _types
    if _types is None:
        try:
            from sharedstate.journal import ChangeJournal, caller
            from sharedstate.kinds import kind_for

            _types = _RecordingTypes(kind_for, ChangeJournal, caller)
        except ImportError:
            _types = False
    return _types or None


def _journal_here() -> ChangeJournal:
    """This Manager process's journal, made (and its sender started) on first use."""
    if _sender is None:
        send_journal(recording_types().ChangeJournal())
    return _sender.journal


def send_journal(journal: ChangeJournal, channel=None) -> None:
    """Make ``journal`` this Manager process's, and send it to the dashboard as it records.

    A program's Manager calls it on its first shared object; the dashboard's own Manager
    at its start, with the journal that holds its named objects and its own ``channel``.
    """
    global _sender
    _sender = JournalSender(journal)
    if channel is not None:
        _listen(channel)
    elif _channel is None:
        return  # nowhere to send it (the dashboard's Manager tested on its own): it records only
    _thread.start_new_thread(_sender.run, ())
    # A Manager process ends through multiprocessing's exit function, which runs these
    # finalizers (atexit does not run in a child): send what the last moments recorded.
    Finalize(None, _sender.send_new, exitpriority=100)


def _listen(channel) -> None:
    """Send over ``channel``, and serve the dashboard's requests that come over it."""
    global _channel
    _channel = channel
    channel.handlers["release"] = release
    channel.handlers["pace"] = pace


class JournalSender:
    """Sends the journal to the dashboard in batches: from a raw thread, and once more at exit.

    A batch is one pickle (the entries' values are pickled already, one by one), so the
    Manager process spends one C call per batch on it rather than work per entry; after
    a send, changes gather for ``GAP`` so that a busy Manager sends few, larger batches.
    """

    def __init__(self, journal: ChangeJournal) -> None:
        self.journal = journal
        self.after = journal.version  # a journal restored at a version sends what comes after it
        self.lock = _thread.allocate_lock()
        self.gap = UNWATCHED_GAP  # until the dashboard says a page is open: its first batch asks
        self.hurry = _thread.allocate_lock()  # released to cut a wait of the slow pace short
        self.hurry.acquire()

    def run(self) -> None:
        while True:
            self.journal.read(self.after, timeout=5.0, limit=1)  # wait for something new
            if self.send_new():
                self.hurry.acquire(timeout=self.gap)  # held again either way: only pace() frees it

    def pace(self, watched: bool) -> None:
        """A page opened (send every change within ``GAP``, from now) or none is open."""
        self.gap = GAP if watched else UNWATCHED_GAP
        if watched and self.hurry.locked():
            self.hurry.release()

    def send_new(self) -> bool:
        """Send every entry not sent yet; False if there was none."""
        with self.lock:
            status, entries = self.journal.read(self.after, timeout=0, limit=BATCH)
            if status == "overflow":
                # we fell behind further than the journal keeps: send every object as it is now
                version, objects = self.journal.snapshot()
                _send({"t": "journal_snapshot", "version": version, "objects": _wire(objects)})
                self.after = version
                return True
            if not entries:
                return False
            _send({"t": "journal", "entries": _wire(entries)})
            self.after = entries[-1][0]
            return True


def pace(request: dict) -> None:
    """The dashboard's ``pace``: whether a page is open, so every change is wanted at once."""
    if _sender is not None:
        _sender.pace(request.get("watched") is True)


def release(request: dict) -> None:
    """The dashboard's Release: free a lock-like object on behalf of its holder, which died."""
    if _sender is not None and isinstance(request.get("oid"), str) and isinstance(request.get("pid"), int):
        _sender.journal.break_lock(request["oid"], request["pid"])


def _send(message: dict) -> None:
    if _channel is not None:
        _channel.send(message)


def _wire(items: list) -> str:
    return base64.b64encode(pickle.dumps(items, pickle.HIGHEST_PROTOCOL)).decode()


def note_writer(conn) -> None:
    """Note, for this connection's thread, which process its ops come from (the journal's
    per-thread ``caller``); once per connection, after it authenticated."""
    types = recording_types()
    if types is not None and not types.caller.pid:
        types.caller.pid = writer_of(conn)


def creation_label(typeid: str) -> str:
    """``source line  · file.py:LINE`` of the program line that is making a shared object."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(d in name for d in OWN_DIRS) and not name.startswith("<frozen"):
            line = linecache.getline(name, frame.f_lineno).split("  #")[0].strip()
            try:  # ``b = m.Lock()`` for the second of ``a, b = m.Lock(), m.Lock()``
                made = bound_name(frame, line) if line else None
            except Exception:  # never raised into the program: the line is label enough
                made = None
            return f"{made or line or f'manager.{typeid}()'}  · {os.path.basename(name)}:{frame.f_lineno}"
        frame = frame.f_back
    return f"manager.{typeid}()"


# -- the patches -------------------------------------------------------------------------
def patch_managers(module, channel) -> None:
    """Make ``multiprocessing.managers`` record (see the module docstring)."""
    _listen(channel)
    registry = module.SyncManager._registry
    for name, (plain, exposed, method_to_typeid, proxytype) in list(registry.items()):
        if plain is not None:  # Iterator and AsyncResult are made by other calls, not created
            registry[name] = (functools.partial(create, name, plain), exposed, method_to_typeid, proxytype)

    serve_client = module.Server.serve_client

    # The writer is looked up where the Server dispatches a request (serve_client, create),
    # which it does only once the connection passed the authkey challenge: a refused client
    # costs the Manager no /proc search (~10 ms for a TCP one), as under plain python.
    @functools.wraps(serve_client)
    def recording_serve_client(self, conn):
        note_writer(conn)
        return serve_client(self, conn)

    module.Server.serve_client = recording_serve_client

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

    server_create = module.Server.create

    @functools.wraps(server_create)
    def tapping_create(self, c, typeid, /, *args, **kwds):
        note_writer(c)
        ident, exposed = server_create(self, c, typeid, *args, **kwds)
        with self.mutex:
            obj, names, method_to_typeid = self.id_to_obj[ident]
            tap = tap_for(obj, typeid, self.address)
            if tap is not None:
                self.id_to_obj[ident] = (tap, names, method_to_typeid)
        return ident, exposed

    module.Server.create = tapping_create


# -- objects a program serves itself (BaseManager.register('get_queue', lambda: queue)) ---
_taps: dict = {}  # id(object) -> its QueueTap, one per object however often it is served


def tap_for(obj, typeid: str, address):
    """A recording stand-in for a plain ``queue.Queue`` a program serves itself, else None."""
    if type(obj) is not queue.Queue or recording_types() is None:
        return None
    tap = _taps.get(id(obj))
    if tap is None or tap._queue is not obj:
        where = address if isinstance(address, str) else ":".join(map(str, address))
        tap = _taps[id(obj)] = QueueTap(obj)
        _journal_here().add("Queue", tap, label=f"{typeid}()  · served at {where}")
    return tap


class QueueTap:
    """The program's own queue, served through its Manager: each put and get is journalled.

    The queue stays the program's (it may use it directly too); calls that come through
    the Manager are recorded after they return, so a get may be recorded before the put
    it took, which the replay tolerates.
    """

    def __init__(self, q) -> None:
        self._queue = q

    def __getattr__(self, name):
        return getattr(self._queue, name)

    def _raw(self) -> dict:
        q = self._queue
        return {"items": list(q.queue), "maxsize": q.maxsize, "unfinished": q.unfinished_tasks, "blocked": []}

    def _record(self, op: str, *args) -> None:
        with self._journal.lock:
            self._journal.record(self._oid, op, args)

    def put(self, item, block=True, timeout=None):
        self._queue.put(item, block, timeout)
        self._record("put", item)

    def put_nowait(self, item):
        return self.put(item, block=False)

    def get(self, block=True, timeout=None):
        waits = block and not self._queue.qsize()
        if waits:
            self._record("block", "get")
        try:
            item = self._queue.get(block, timeout)
        finally:
            if waits:
                self._record("unblock", "get")
        self._record("get")
        return item

    def get_nowait(self):
        return self.get(block=False)

    def task_done(self):
        self._queue.task_done()
        self._record("task_done")
