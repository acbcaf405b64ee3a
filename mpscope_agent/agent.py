"""Start the agent in this process: hide our traces, connect, and install the hooks."""

from __future__ import annotations

import importlib.machinery
import io
import os
import sys

from . import (
    ENV_MAIN,
    ENV_PYTHONPATH,
    HIDDEN_ENV,
    loky_hooks,
    native,
    native_objects,
    native_sync,
    protocol,
    waits,
)
from .channel import Channel, directory_from_env, inherited_pipes, is_main, key_from
from .executor_hooks import patch_executor
from .imports import PatchOnImport
from .native_condition import patch as patch_condition
from .native_pipes import patch_connection
from .native_queues import patch_queues
from .native_shm import patch_shared_memory
from .native_values import patch_sharedctypes
from .pool_hooks import patch_pool
from .process_hooks import patch_process, patch_util
from .stdio import flush_periodically, line_buffered, note_terminal

channel: Channel | None = None


def start(boot_dir: str) -> None:
    """Connect this process to the dashboard named in the environment, then hide the environment."""
    global channel
    directory = directory_from_env()
    main = is_main()
    inherited = inherited_pipes()
    if directory is not None:
        note_terminal(main)  # before fd 1 becomes our pipe, and before _hide
    _hide(boot_dir)
    if directory is None:
        return
    try:
        channel = Channel(directory, key_from(directory))
    except OSError:
        return  # the dashboard and its directory are gone: run unwatched
    channel.connect("main" if main else "process", inherited)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if fd in channel.pipes:
            reopen_stream(name, fd)
    os.register_at_fork(after_in_child=channel.after_fork_in_child)
    channel.handlers[protocol.RELEASE_NATIVE] = native.release
    waits.start(channel)
    os.register_at_fork(after_in_child=native_objects.after_fork_in_child)
    os.register_at_fork(after_in_child=lambda: waits.start(channel))  # its thread is not forked
    sys.meta_path.insert(0, BootPackages(boot_dir))
    PatchOnImport(
        {
            "multiprocessing.managers": lambda m: patch_managers(m, channel),
            "multiprocessing.process": lambda m: patch_process(m, channel),
            "multiprocessing.synchronize": lambda m: (
                native.patch_synchronize(m),
                native_sync.patch(m),
                patch_condition(m),
            ),
            "multiprocessing.queues": patch_queues,
            "multiprocessing.connection": patch_connection,
            "multiprocessing.sharedctypes": lambda m: patch_sharedctypes(m, channel),
            "multiprocessing.shared_memory": patch_shared_memory,
            "multiprocessing.util": lambda m: patch_util(m, channel),
            "multiprocessing.pool": lambda m: patch_pool(m, channel),
            "concurrent.futures.process": lambda m: patch_executor(m, channel),
            **loky_hooks.patches(channel),  # joblib's workers: exec'd by loky with os.environ
        }
    ).install()


def reopen_stream(name: str, fd: int) -> None:
    """Make ``sys.stdout`` (or ``sys.stderr``) a new stream over the pipe now on ``fd``.

    Python made the stream at start-up for what fd 1 was then: over a regular file it
    remembers that it can seek, and ``reconfigure()``, ``tell()`` or ``seek()`` would then
    fail with ESPIPE on our pipe. So it is made again, as CPython makes its stdio (the same
    encoding, errors, newline, write-through, buffering or none (``-u``), names and mode),
    over the pipe, buffered as plain python would buffer it where mpscope's own stdout goes
    (line-buffered on a terminal, else block-buffered: :mod:`stdio`), and flushed every
    50 ms so the page stays live. ``sys.__stdout__`` follows if it was the same object.
    """
    old = getattr(sys, name)
    if not isinstance(old, io.TextIOWrapper):
        return  # not Python's own stream (None, or something a sitecustomize put there)
    try:
        if old.fileno() != fd:
            return
        old.flush()
        unbuffered = isinstance(old.buffer, io.FileIO)  # python -u, PYTHONUNBUFFERED
        old_raw = old.buffer if unbuffered else old.buffer.raw
        buffer = open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115 -- it is sys.stdout from now on
        raw = buffer if unbuffered else buffer.raw
        raw.name = old_raw.name  # "<stdout>"
        stream = io.TextIOWrapper(
            buffer,
            encoding=old.encoding,
            errors=old.errors,
            newline="\n",  # CPython's stdio on POSIX: no translation
            line_buffering=not unbuffered and line_buffered(name, old.line_buffering),
            write_through=old.write_through,
        )
        stream.mode = old.mode
    except (AttributeError, OSError, ValueError):
        return  # left as it was: a stream we cannot read the settings of
    setattr(sys, name, stream)
    if getattr(sys, f"__{name}__") is old:
        setattr(sys, f"__{name}__", stream)
    _replaced.append(old)  # never closed nor collected: its fd is the new stream's
    if not unbuffered:
        flush_periodically(stream)


_replaced: list = []


def patch_managers(module, channel) -> None:
    # imported only when the program imports multiprocessing.managers: the recording
    # types import it themselves, and a program that never uses a Manager never pays
    from .manager_hooks import patch_managers as patch

    patch(module, channel)


class BootPackages:
    """Finds ``sharedstate`` (the recording types, copied beside us) once the boot directory left sys.path.

    First on ``sys.meta_path``, but it gives way to a ``sharedstate`` of the program's own:
    it answers only where the ordinary finders find nothing or a copy of mpscope's (an
    installed mpscope). Ours is then preferred: it is the dashboard's own version, and it
    was compiled before the program started, where an installed copy may have no bytecode
    (an editable install under PYTHONDONTWRITEBYTECODE compiled ~10 modules in the
    program's Manager, in every run).
    """

    def __init__(self, boot_dir: str) -> None:
        self.boot_dir = boot_dir
        self.looking = False

    def find_spec(self, name, path=None, target=None):
        if name != "sharedstate" or self.looking:
            return None
        self.looking = True  # the ordinary finders are asked through sys.meta_path: not us again
        try:
            theirs = _ordinary_spec(name)
        except (ImportError, ValueError):
            theirs = None
        finally:
            self.looking = False
        if theirs is not None and not _is_sharedstate_of_mpscope(theirs):
            return None  # the program's own module of that name
        return importlib.machinery.PathFinder.find_spec(name, [self.boot_dir])


def _ordinary_spec(name: str):
    """What ``importlib.util.find_spec(name)`` finds for a top-level name, without importing
    importlib.util (under Python 3.9 it imports ``typing``: ~3 ms in every process of the program)."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, None) if find is not None else None
        if spec is not None:
            return spec
    return None


def _is_sharedstate_of_mpscope(spec) -> bool:
    places = spec.submodule_search_locations or []
    return any(
        all(os.path.exists(os.path.join(place, part)) for part in ("journal.py", "carry.py", "kinds"))
        for place in places
    )


def _hide(boot_dir: str) -> None:
    """Leave sys.path and os.environ as the program would see them without mpscope.

    Our variables stay in the C environment (exec'd children such as spawn workers
    need them) but leave ``os.environ``; only the main-process marker is unset for real.
    """
    while boot_dir in sys.path:
        sys.path.remove(boot_dir)
    loky_hooks.remember_env(dict(os.environ))  # loky builds its workers' environment from os.environ
    data = os.environ._data
    original = os.environ.get(ENV_PYTHONPATH)
    for name in HIDDEN_ENV:
        data.pop(os.environ.encodekey(name), None)
    if original is not None:
        key = os.environ.encodekey("PYTHONPATH")
        if original:
            data[key] = os.environ.encodevalue(original)
        else:
            data.pop(key, None)
    os.unsetenv(ENV_MAIN)
