"""The child side of a lab run: report states and output lines to the server over the agent channel.

A lab's child process gets the run's ``Reporter``: where the dashboard listens (its agent
directory and key), the run's id, and the run's lock and counter. Each child connects its
own agent channel (:mod:`mpscope_agent.channel`, as a built-in worker does), so it is
listed in the dashboard's process table and answers stack requests; its reports are
``lab`` messages of :mod:`mpscope_agent.protocol`. Each is numbered under the run's lock,
so that the server puts the reports of all the run's processes back in the one order
they were made (:mod:`webapp.labs.order`), as the shared screen needs.

:func:`install` points ``sys.stdout``/``sys.stderr`` at it, so the lessons' plain
``print()`` calls arrive at the server tagged with PID, PPID and thread ident;
:func:`state` marks what a thread is doing (sleeping, blocked, waiting for a lock) so
the timeline can draw it. Nothing here imports Flask.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from multiprocessing.util import Finalize
from typing import Any

from mpscope_agent import protocol, waits
from mpscope_agent.channel import Channel
from sharedstate.encoding import encode
from workers.bootstrap import die_with_parent

MAX_REPORT = 64 * 1024  # bytes of JSON: a bigger report is replaced by a note saying so

_reporter: Reporter | None = None


class Reporter:
    """What a child needs to report; passed when a process starts, connected in it."""

    def __init__(self, directory: str, key: str, run_id: str, lock: Any, counter: Any) -> None:
        self.directory = directory
        self.key = key
        self.run_id = run_id
        self.lock = lock  # the run's: reports are numbered in the order they are made
        self.counter = counter
        self.channel: Channel | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "channel": None}  # each process connects its own

    def connect(self) -> None:
        self.channel = Channel(self.directory, self.key)
        self.channel.connect("lab", {})

    def send(self, kind: str, **fields: Any) -> None:
        message = {"t": protocol.LAB, "run": self.run_id, "kind": kind, **fields}
        if len(json.dumps(message, default=repr)) > MAX_REPORT:
            body = {**_base(), "kind": "note", "label": "report too big, dropped"}
            message = {"t": protocol.LAB, "run": self.run_id, "kind": "event", "event": body}
        with self.lock:
            seq = self.counter.value
            self.counter.value = seq + 1
            if self.channel is not None:
                self.channel.send({**message, "seq": seq})


def _base() -> dict:
    return {"pid": os.getpid(), "tid": threading.get_ident(), "t": time.time()}


def _send(kind: str, **fields: Any) -> None:
    if _reporter is not None:
        _reporter.send(kind, **fields)


def event(kind: str, state: str | None = None, label: str = "", **extra: Any) -> None:
    """Report one timeline event for the calling thread."""
    body = {**_base(), "kind": kind}
    if state is not None:
        body["state"] = state
    body["label"] = label
    body.update(extra)
    _send("event", event=body)


@contextlib.contextmanager
def state(name: str, label: str = "", after: str = "running", **extra: Any) -> Iterator[None]:
    """Show the calling thread in state ``name`` while the block runs, then ``after``.

    The closing event says how long the block took (``wall``) and how much of that this
    thread had a CPU (``cpu``): a thread waiting for the GIL or for a core gets none.
    """
    event("state", name, label, **extra)
    cpu, wall = time.thread_time(), time.monotonic()
    try:
        yield
    finally:
        event("state", after, of=name, cpu=time.thread_time() - cpu, wall=time.monotonic() - wall)


@contextlib.contextmanager
def task(label: str, number: int) -> Iterator[None]:
    """Show a Pool task on the timeline; after it, the worker waits for its next task."""
    event("state", "running", label, task=number)
    try:
        yield
    finally:
        event("state", "blocked", "waiting for a task")


class _QueueWriter(io.RawIOBase):
    """A write-only raw stream whose every write becomes one chunk on the shared screen."""

    def __init__(self, stream: str) -> None:
        self.stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        text = bytes(data).decode("utf-8", "replace")
        for start in range(0, len(text), 1000):
            chunk = text[start : start + 1000]
            _send(
                "out",
                pid=os.getpid(),
                ppid=os.getppid(),
                tid=threading.get_ident(),
                time=time.time(),
                stream=self.stream,
                text=chunk,
            )
        return len(data)


def _stream(name: str) -> io.TextIOWrapper:
    # Line-buffered like a terminal's stdout: one print() is one write, unless the code
    # flushes part of a line itself (as the Lock lab does, word by word). Chunks stay
    # under 1000 characters, each one report.
    return io.TextIOWrapper(io.BufferedWriter(_QueueWriter(name)), encoding="utf-8", line_buffering=True)


def install(reporter: Reporter, label: str = "", first_state: str = "running") -> None:
    """Make this process report to ``reporter``; the first call in every lab child."""
    global _reporter
    die_with_parent()
    os.setpgrp()  # a Ctrl-C at the server's terminal is the server's to handle, not ours
    reporter.connect()
    waits.start(reporter.channel, hidden=(__file__,))
    _reporter = reporter
    sys.stdout = _stream("stdout")
    sys.stderr = _stream("stderr")
    event("start", first_state, label)


def install_pool_worker(reporter: Reporter) -> None:
    """The Pool initializer: report like any lab child, and report the end at exit."""
    install(reporter, "pool worker", "blocked")
    Finalize(None, finish, exitpriority=10)


def record(key: str, value: Any) -> None:
    """Put ``value`` into the run's result under ``key`` (a list: one entry per call)."""
    _send("result", key=key, value=encode(value))


def finish() -> None:
    """Report this process's end and flush what it still has to say."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    event("end", process=True)


def run_child(reporter: Reporter, target: Any, args: tuple, label: str) -> None:
    """The Process target of every lab child: report, run ``target(*args)``, report the end."""
    install(reporter, label)
    code = 0
    try:
        target(*args)
    except Exception:
        traceback.print_exc()  # into the run's output, where the user is looking
        code = 1
    finally:
        finish()
    sys.exit(code)


class Thread(threading.Thread):
    """A threading.Thread that shows on the timeline from its start to its end."""

    def run(self) -> None:
        event("start", "running", self.name)
        try:
            super().run()
        finally:
            event("end")


_pieces_done = [0]  # pieces of work finished by any thread of this process (under the GIL)


def gil_turns(n: int, piece: int = 10_000, flush_every: int = 64) -> Iterator[int]:
    """Yield ``n`` in pieces of work; show the calling thread waiting for the GIL between its turns.

    A piece whose wall time is well above the CPU time this thread spent on it means the
    thread was not running. If other threads of this process finished pieces meanwhile,
    one of them held the GIL: that wait is drawn on the timeline. (If none did, the whole
    process was waiting for a CPU, which is not the GIL's doing, and is not drawn.) Waits
    are sent in batches, because sending one would itself hand the GIL to another thread.
    """
    pending: list[tuple[float, float]] = []  # (waited from, to) in wall-clock time
    left = n
    while left > 0:
        size = min(piece, left)
        seen, cpu, started = _pieces_done[0], time.thread_time(), time.perf_counter()
        yield size
        waited = (time.perf_counter() - started) - (time.thread_time() - cpu)
        others = _pieces_done[0] - seen
        _pieces_done[0] += 1
        left -= size
        if waited > 0.001 and others > 0:  # a switch costs microseconds; a GIL turn is 5 ms
            now = time.time()
            pending.append((now - waited, now))
        if len(pending) >= flush_every or (left <= 0 and pending):
            for since, until in pending:
                event("state", "waiting_gil", "waiting for the GIL", t=since)
                event("state", "running", "holds the GIL", t=until)
            pending.clear()
