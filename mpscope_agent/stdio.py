"""A watched process's stdout keeps the buffering plain python gives it; a flusher keeps the page live.

Plain python line-buffers stdout on a terminal and block-buffers it (8 KiB) otherwise. Under
mpscope fd 1 is a pipe to the dashboard, so the buffering is chosen from what mpscope's own
stdout is (:func:`note_terminal` in the main process, passed down to exec'd children in
``MPSCOPE_TTY``): a program printing flat out to a file or a pipe costs what it costs without
mpscope (line buffering made a 200,000-line printer ~4x slower). So that the page stays live,
a flusher flushes the process's streams every ``FLUSH_EVERY`` seconds: a line printed reaches
the dashboard within 50 ms. What a killed process loses is what plain python loses: what is
still in its buffer (here at most the last 50 ms of output, at most one buffer).

Flushing from another thread is safe here because of how CPython's C streams work:
``TextIOWrapper.flush`` takes its pending text and hands it to the ``BufferedWriter`` in one
step under the GIL (no partial state is seen), and the ``BufferedWriter`` holds its own lock
around every write and flush, so the flusher and the program's threads take turns, in order.
Two places where another thread holding that lock would hurt are guarded with ``_turn``, a
lock the flusher holds for each round:

* ``fork()``: a child inherits the buffer's lock as it was; were the flusher in a flush at that
  moment, the child's first print would wait for ever. Fork waits for the round to end.
* interpreter shutdown: a daemon thread that is in a write when finalization starts is
  frozen holding the buffer's lock, and the final flush aborts the process ("could not
  acquire lock ... at interpreter shutdown"). An ``atexit`` hook (run before that) waits for
  the round to end and stops the flusher; the final flush is then the main thread's, as in
  plain python.

The flusher is a raw ``_thread``: invisible to ``threading`` (``enumerate()``, ``active_count()``
and the wait for non-daemon threads at exit see what they would see without mpscope).
"""

from __future__ import annotations

import _thread
import atexit
import os
import time

from . import ENV_TTY

FLUSH_EVERY = 0.05

_streams: list = []  # the streams the flusher flushes (ours: the ones the agent made)
_turn = _thread.allocate_lock()
_state = {"running": False, "stopped": False, "terminal": False}


def note_terminal(main: bool) -> bool:
    """Whether mpscope's stdout is a terminal; call before fd 1 becomes our pipe.

    The main process sees it on its fd 1 (the launcher's own stdout) and tells its exec'd
    children (spawn, forkserver) in the C environment; they read it from there.
    """
    if main:
        terminal = os.isatty(1)
        os.putenv(ENV_TTY, "1" if terminal else "0")
    else:
        terminal = os.environ.get(ENV_TTY) == "1"
    _state["terminal"] = terminal
    return terminal


def line_buffered(name: str, old_line_buffering: bool) -> bool:
    """The line buffering plain python would have given ``sys.<name>``.

    stdout: line-buffered on a terminal only. stderr keeps what Python chose (line-buffered
    since 3.9, whatever it is connected to).
    """
    return _state["terminal"] if name == "stdout" else old_line_buffering


def flush_periodically(stream) -> None:
    """Flush ``stream`` every FLUSH_EVERY seconds from now on (started once per process)."""
    _streams.append(stream)
    if not _state["running"]:
        _state["running"] = True
        atexit.register(_stop)
        os.register_at_fork(before=_take_turn, after_in_parent=_give_turn, after_in_child=_after_fork)
        _thread.start_new_thread(_run, ())


def _run() -> None:
    while True:
        time.sleep(FLUSH_EVERY)
        with _turn:
            if _state["stopped"]:
                return
            for stream in list(_streams):
                try:
                    stream.flush()
                except ValueError:  # closed by the program: nothing more to flush there
                    _streams.remove(stream)
                except Exception:  # noqa: BLE001 -- a broken pipe or full disk is the program's to see, at its own flush
                    pass


def _take_turn() -> None:
    _turn.acquire()  # the global, not the lock of the moment of registering: a child has its own


def _give_turn() -> None:
    _turn.release()


def _after_fork() -> None:
    # the parent's flusher thread is not in the child; _turn is held (taken before fork)
    global _turn
    _turn = _thread.allocate_lock()
    if not _state["stopped"]:
        _thread.start_new_thread(_run, ())


def _stop() -> None:
    """At exit (before finalization): let the round in progress end, then flush no more."""
    with _turn:
        _state["stopped"] = True
