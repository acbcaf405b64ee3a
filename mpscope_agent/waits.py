"""What this process waits on: the program's own innermost frame, sampled while the process is idle.

A raw thread (invisible to ``threading``) looks every ``SAMPLE`` seconds at the CPU time
this process used since its last look. When it used almost none, the process is waiting,
and its main thread's stack says on what: the innermost frame of the program's own code
(not the standard library's, an installed package's or mpscope's) and the call it made
there — ``get() on q · prog.py:15``. The dashboard is told only when that changes
(``wait``), and ``null`` once the process runs again. The stack is read from inside, as a
stack request reads it: no ptrace.
"""

from __future__ import annotations

import _thread
import os
import sys
import time

from . import native, native_objects, protocol
from .stacks import frame_kind, hide, source_line

SAMPLE = 0.5  # seconds between looks: at most twice a second
IDLE = 0.05  # of one core: a process that used less since the last look is waiting
TASK_LOOPS = {("pool.py", "worker"), ("process.py", "_process_worker")}  # a pool worker between tasks
# a process whose own code returned, held at exit until its Queue's feeder thread has
# written every item it put into the pipe: which waits for a reader (the docs' "joining
# processes that use queues")
EXIT_FLUSH = ("queues.py", "_finalize_join")

_main = [0]  # the ident of the thread that runs the program (set where sampling starts)


def start(channel, hidden: tuple[str, ...] = ()) -> None:
    """Sample this process's main thread (the calling one) and tell ``channel`` what it waits on.

    ``hidden``: more files that are mpscope's, not the program's (a built-in worker's bootstrap).
    """
    hide(*hidden)
    _main[0] = _thread.get_ident()
    last_held: list[dict] = [{}]
    native_objects.at_exit[:] = [lambda: _send_native(channel, last_held)]
    _thread.start_new_thread(_run, (channel, last_held))


def _send_native(channel, last_held: list[dict]) -> None:
    """Tell what changed of the program's own objects: locks made here or held now, and the
    other objects' facts (``native_objects``)."""
    new, held = native.holdings()
    made, facts = native_objects.sample()
    if new or made or facts or held != last_held[0]:
        channel.send({"t": protocol.NATIVE, "objects": new + made, "held": held, "facts": facts})
        last_held[0] = held


def _run(channel, last_held: list[dict]) -> None:
    last_cpu, last_key, since = time.process_time(), None, 0.0
    while channel.sock is not None:
        time.sleep(SAMPLE)
        _send_native(channel, last_held)
        cpu = time.process_time()
        idle, last_cpu = cpu - last_cpu < IDLE * SAMPLE, cpu
        frame = sys._current_frames().get(_main[0]) if idle else None
        waiting = describe(frame) if frame is not None else None
        del frame
        key = None if waiting is None else (waiting["where"], waiting["call"], waiting["text"])
        if key != last_key:
            if waiting is not None:  # the same wait with new text (a map's tasks left) keeps its start
                same = last_key is not None and last_key[:2] == key[:2]
                waiting["since"] = since if same else time.time() - SAMPLE / 2
                since = waiting["since"]
            last_key = key
            channel.send({"t": protocol.WAIT, "waiting": waiting})


def describe(frame) -> dict | None:
    """``{"call", "object", "where", "text"}`` for a stack, innermost ``frame`` first; None if empty."""
    inner = None  # the frame just inside the one being looked at
    in_queue = False  # a frame inside it reads a queue or pipe
    mapping = None  # the Pool map whose results it waits for, if it does
    while frame is not None:
        code = frame.f_code
        if frame_kind(code.co_filename) == "program":
            return _in_map(_wait(frame, inner), mapping) if mapping is not None else _wait(frame, inner)
        if (
            mapping is None
            and code.co_name in ("get", "wait")
            and type(frame.f_locals.get("self")).__name__ == "MapResult"
        ):
            mapping = frame.f_locals["self"]
        place = (os.path.basename(code.co_filename), code.co_name)
        if place in TASK_LOOPS:
            return _pool_worker(frame, inner, in_queue)
        in_queue = in_queue or place[0] in ("queues.py", "connection.py")
        if place == EXIT_FLUSH:
            return _exit_flush(frame)
        inner, frame = frame, frame.f_back
    return None


def _in_map(waiting: dict, result) -> dict:
    """A wait for a Pool map's results says how many of its tasks (chunks, as the pool timeline
    draws them) are left: ``map(): 3 of 10 tasks left · prog.py:12``."""
    left, size = getattr(result, "_number_left", None), getattr(result, "_chunksize", None)
    value = getattr(result, "_value", None)  # one slot per item
    if not (isinstance(left, int) and isinstance(size, int) and isinstance(value, list)) or size <= 0:
        return waiting
    items = len(value)
    tasks = items // size + bool(items % size)
    where = f" · {waiting['where']}" if waiting.get("where") else ""
    waiting["text"] = f"{waiting['call']}(): {left} of {tasks} task{'s' * (tasks != 1)} left{where}"
    return waiting


def _exit_flush(frame) -> dict:
    """Held at exit by a Queue's feeder: which queue (one of the program's), how much is left."""
    from .native_queues import flushing

    oid, name, items, size = flushing(frame)
    text = "exiting: its Queue's feeder is still writing items it put, which no process has read"
    if oid is not None and items:
        into = f"into {name}" if name else "into its Queue"
        text = (
            f"exiting: flushing {items} item{'s' * (items != 1)} ({size / 1e6:.1f} MB) {into}, "
            "which no process has read"
        )
    waiting = {"call": "exit_flush", "object": name, "where": None, "text": text}
    if oid is not None:
        waiting["oid"] = oid
    return waiting


def _pool_worker(frame, inner, in_queue: bool) -> dict:
    """A pool worker's loop: waiting for its next task (in the task queue's get), or in a task
    whose function is not the program's (``pool.apply_async(time.sleep, (5,))``)."""
    if in_queue:
        return {"call": "task", "object": None, "where": None, "text": "waiting for a task"}
    func = frame.f_locals.get("func") or getattr(frame.f_locals.get("call_item"), "fn", None)
    name = getattr(func, "__name__", None) or "a task"
    call = inner.f_code.co_name if inner is not None else name
    text = f"{call}() in a pool task" if call == name else f"{call}() in the pool task {name}()"
    return {"call": call, "object": None, "where": None, "text": text}


def _wait(frame, inner) -> dict:
    """The program's ``frame``, waiting in a call to ``inner`` (None: in C, e.g. ``time.sleep``)."""
    import re  # here, in this thread, once a process waits: not at the program's start

    where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    line = source_line(frame.f_code.co_filename, frame.f_lineno)
    owner = None
    if inner is not None:
        call = inner.f_code.co_name
        owner = inner.f_locals.get("self")
        kind = type(owner).__name__ if owner is not None else None
    else:  # a C function: name it from the program's line
        found = re.search(r"([\w.]+)\s*\(", line)
        call, kind = (found.group(1).rsplit(".", 1)[-1] if found else "?"), None
    receiver = re.search(r"([\w.\[\]'\"]+)\." + re.escape(call) + r"\s*\(", line)
    obj = receiver.group(1) if receiver else kind
    named = frame.f_locals.get(obj, frame.f_globals.get(obj)) if obj is not None else None
    if type(named) is type(os):
        obj = None  # a module's function (time.sleep): it is not waiting "on" the module
    target = owner.pid if inner is not None and call == "join" and _is_process(owner) else None
    on = f"{obj} (PID {target})" if obj and target else obj
    text = f"{call}() on {on} · {where}" if on else f"{call}() · {where}"
    waiting = {"call": call, "object": obj, "where": where, "text": text}
    if target is not None:
        waiting["pid"] = target  # the process it joins
    followed = native_objects.oid_of(owner) if owner is not None else None
    if followed is not None:  # one of the program's own Queues, Pipe ends...: its panel shows the wait
        waiting["oid"] = followed
    lock, name = _lock_in(frame, line, owner)
    if lock is not None:  # one of the program's own multiprocessing locks (acquire() is C)
        waiting.update(oid=lock, call="acquire", object=name or obj)
        waiting["text"] = f"acquire() of {name or obj or 'a lock'} · {where}"
    return waiting


def _lock_in(frame, line: str, owner) -> tuple[str | None, str | None]:
    """``(id, name)`` of the program's lock this line waits to acquire (``with a:``, ``a.acquire()``)."""
    import re

    for found in re.findall(r"with\s+([A-Za-z_]\w*)|([A-Za-z_]\w*)\.acquire\s*\(", line):
        name = found[0] or found[1]
        oid = _lock_oid(frame.f_locals.get(name, frame.f_globals.get(name)))
        if oid:
            return oid, name
    return (native.oid_of(owner), None) if owner is not None else (None, None)


def _lock_oid(obj) -> str | None:
    """One of the program's locks, or a Condition (acquired as its lock is)."""
    if type(obj).__name__ == "Condition":
        return native_objects.oid_of(obj)
    return native.oid_of(obj)


def _is_process(obj) -> bool:
    process = sys.modules.get("multiprocessing.process")
    return process is not None and isinstance(obj, process.BaseProcess) and isinstance(obj.pid, int)
