"""One process's connection to the dashboard: who it is, its output pipes, events, stack requests.

Each process opens its own connection (a forked child opens a new one at once), so the
dashboard learns every PID from the socket's peer credentials. The first message,
``hello``, carries the read ends of this process's stdout/stderr pipes (SCM_RIGHTS):
writes to fd 1 and 2 are then attributed to this PID even when its parent shares a
terminal. A raw ``_thread`` serves stack requests; it is invisible to ``threading``.
"""

from __future__ import annotations

import _thread
import os
import socket
import sys
import time

from . import ENV_DIR, ENV_ERR, ENV_MAIN, ENV_OUT, protocol
from .stacks import current_stacks
from .task_log import TaskLog

STREAMS = ((1, "stdout", ENV_OUT), (2, "stderr", ENV_ERR))
MAX_DEFERRED = 10_000  # queued lines beyond which a deferred send writes them itself
DEFER_WINDOW = 0.01  # seconds a deferred line may wait for others to join it


class Channel:
    """The socket to the dashboard, shared by every thread of this process."""

    def __init__(self, directory: str, key: str, on_lost=None) -> None:
        self.directory = directory
        self.key = key
        self.on_lost = on_lost  # called when the dashboard goes away (a built-in worker exits then)
        self.sock = None
        self.sock_id = None  # (st_dev, st_ino) of our socket: its fd number may be the program's later
        self.lock = _thread.allocate_lock()  # held while writing to the socket
        self._deferring()
        self.flush_at_exit = False
        self.reader_ident = None
        self.pipes = {}  # fd -> (st_dev, st_ino) of the pipe we put there
        self.handlers = {}  # request type -> function(request), for requests other hooks serve
        self.watched = False  # a page is open (the dashboard's last pace): sampled values are read
        self.task_log = TaskLog(self)  # a pool worker's task events (task_log.py)

    def connect(self, role: str, inherited: dict) -> None:
        """Connect, take over fds 1 and 2 where they are ours to take, and say hello.

        ``inherited`` maps fd -> the pipe identity our parent put there: a stream that is
        still that pipe (or any stream of the main process, or of a built-in ``worker``)
        gets a pipe of its own; one the program pointed elsewhere (a file, a subprocess's
        capture) is left alone.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(os.path.join(self.directory, "agent.sock"))
        except OSError:
            sock.close()
            return  # the dashboard is gone: run unwatched
        handed, names, saved = [], [], {}
        for fd, name, env in STREAMS:
            current = _identity(fd)
            if current is None or (role not in ("main", "worker") and current != inherited.get(fd)):
                continue  # closed, or pointed elsewhere by the program: not ours
            read_end, write_end = os.pipe()
            saved[fd] = os.dup(fd)
            os.dup2(write_end, fd)
            os.close(write_end)
            self.pipes[fd] = _identity(fd)
            # exec'd children (spawn, forkserver) find it in the C environment
            os.putenv(env, "{}:{}".format(*self.pipes[fd]))
            handed.append(read_end)
            names.append(name)
        hello = {
            "t": protocol.HELLO,
            "key": self.key,
            "v": protocol.VERSION,
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "name": process_name(),
            "role": role,
            "streams": names,
            "time": time.time(),
        }
        try:
            socket.send_fds(sock, [protocol.line(hello)], handed)
        except OSError:
            sock.close()
            for fd, original in saved.items():  # nobody will read our pipes: back to what it was
                os.dup2(original, fd)
            self.pipes = {}
            return
        finally:
            for fd in handed + list(saved.values()):
                os.close(fd)
        self.sock_id = _identity(sock.fileno())
        self.sock = sock
        _thread.start_new_thread(self._serve, ())

    def send(self, message: dict, defer: bool = False) -> None:
        """Send one event; a dashboard that went away is ignored, never raised into the program.

        ``defer``: the line is queued and written by this process's writer thread, several
        per write, so that the calling thread does not wait for the socket (Pool task events:
        a write per ``apply_async`` made a program of small tasks several times slower). What
        is queued is written before any line sent without ``defer`` (the order is kept),
        when the process ends (threading's exit hook: the main process and every
        multiprocessing child), or by the sending thread itself once MAX_DEFERRED lines wait
        (a dashboard that falls that far behind holds the program back, as without defer).
        """
        if self.sock is None:
            return
        self.send_line(protocol.line(message), defer)

    def send_line(self, data: bytes, defer: bool = False) -> None:
        """:meth:`send` for a message already encoded: one JSON line (``protocol.line``'s form),
        or, deferred, an object whose ``take()`` gives the lines when they are written."""
        if self.sock is None:
            return
        if defer:
            with self.queue_lock:
                self.deferred.append(data)
                over = len(self.deferred) >= MAX_DEFERRED
                start, wake = not self.writer_started, self.writer_idle
                self.writer_started, self.writer_idle = True, False
            if start:
                self._start_writer()
            elif wake:
                self.wake.release()
            if not over:
                return
            data = b""
        with self.lock:
            with self.queue_lock:
                batch, self.deferred = self.deferred, []
            batch.append(data)
            self._write_batch(batch)

    def flush(self) -> None:
        """Write what is queued now (at exit)."""
        with self.lock:
            with self.queue_lock:
                batch, self.deferred = self.deferred, []
            self._write_batch(batch)

    def _write_batch(self, batch: list) -> None:
        """Write the deferred lines (``self.lock`` held): a line is bytes; anything else queued
        gathers events of its own (``pool_hooks.EventBatch``, ``task_log.TaskLog``): its
        ``take()`` gives its lines, and it is told once they are written, if it asks."""
        if not batch:
            return
        if self._write(b"".join(item if type(item) is bytes else item.take() for item in batch)):
            for item in batch:
                if type(item) is not bytes and hasattr(item, "wrote"):
                    item.wrote()

    def _write(self, data: bytes) -> bool:
        sock = self.sock
        if sock is None or not data:
            return sock is not None
        if not self._still_ours(sock):
            return False
        try:
            sock.sendall(data)
        except OSError:
            self._lose(sock)
            return False
        return True

    def _still_ours(self, sock) -> bool:
        """Whether ``sock``'s fd is still our socket: a program that closes every descriptor
        (``os.closerange(3, ...)``, as a daemon does) and opens files or sockets that take the
        number must not get our lines, nor have them read; we stop instead."""
        if _identity(sock.fileno()) == self.sock_id:
            return True
        self._lose(sock)
        return False

    def _lose(self, sock) -> None:
        """Stop using ``sock``: closed if its fd is still ours, else only let go of (closing it
        would close the program's own file that took the number)."""
        if self.sock is sock:
            self.sock = None
        try:
            if _identity(sock.fileno()) == self.sock_id:
                sock.close()
            else:
                sock.detach()
        except OSError:
            pass

    def _deferring(self) -> None:
        """No deferred line, no writer thread yet (a new channel, or a forked child's)."""
        self.queue_lock = _thread.allocate_lock()  # guards ``deferred`` and the writer's state
        self.deferred = []
        self.writer_started = self.writer_idle = False
        self.wake = _thread.allocate_lock()  # released to wake the idle writer
        self.wake.acquire()

    def _start_writer(self) -> None:
        if not self.flush_at_exit:
            threading = sys.modules.get("threading")
            try:  # runs in threading._shutdown: at the main process's exit and in every mp child's
                threading._register_atexit(self.flush)
                self.flush_at_exit = True
            except Exception:  # no threading, or already shutting down: the writer may lose the last lines
                pass
        _thread.start_new_thread(self._writer, ())

    def _writer(self) -> None:
        while self.sock is not None:
            # woken by the first deferred line: let the next ones join it (one write, and no
            # wake-up per line while the program keeps sending)
            time.sleep(DEFER_WINDOW)
            with self.lock:
                with self.queue_lock:
                    batch, self.deferred = self.deferred, []
                    self.writer_idle = not batch
                self._write_batch(batch)
            if not batch:
                self.wake.acquire()

    def after_fork_in_child(self) -> None:
        """In a forked child: drop the parent's connection and open our own."""
        self.lock = _thread.allocate_lock()
        self._deferring()  # the parent's queue and writer thread are not ours
        inherited = dict(self.pipes)
        self.pipes = {}
        if self.sock is not None:
            self.sock.close()  # our copy only: the parent's connection stays open
            self.sock = None
        self.connect("process", inherited)

    def _serve(self) -> None:
        self.reader_ident = _thread.get_ident()
        sock = self.sock
        buffered = b""
        while True:
            try:
                data = sock.recv(65536) if self._still_ours(sock) else b""
            except OSError:
                data = b""
            if not data:  # the dashboard is gone (or our socket closed by the program): go on unwatched
                self._lose(sock)
                if self.on_lost is not None:
                    self.on_lost()
                return
            buffered += data
            *lines, buffered = buffered.split(b"\n")
            for raw in lines:
                request = protocol.parse(raw)
                if request is None:
                    continue
                if request.get("t") == protocol.PACE:  # and a Manager's journal sender is told too
                    self.watched = request.get("watched") is True
                if request.get("t") == protocol.STACK:
                    threads = current_stacks(skip=self.reader_ident)
                    self.send({"t": protocol.STACK, "id": request.get("id"), "threads": threads})
                elif request.get("t") in self.handlers:
                    self.handlers[request["t"]](request)


def process_name() -> str:
    """``multiprocessing.current_process().name`` if multiprocessing is loaded, else MainProcess."""
    process = sys.modules.get("multiprocessing.process")
    return process.current_process().name if process is not None else "MainProcess"


def inherited_pipes() -> dict:
    """The pipe identities an exec'd parent passed down in the environment, by fd."""
    found = {}
    for fd, _name, env in STREAMS:
        value = os.environ.get(env, "")
        if value.count(":") == 1:
            dev, ino = value.split(":")
            found[fd] = (int(dev), int(ino))
    return found


def is_main() -> bool:
    return os.environ.get(ENV_MAIN) == "1"


def key_from(directory: str) -> str:
    with open(os.path.join(directory, "key")) as f:
        return f.read().strip()


def directory_from_env() -> str | None:
    return os.environ.get(ENV_DIR)


def _identity(fd: int):
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
