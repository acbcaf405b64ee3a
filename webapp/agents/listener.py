"""The Unix socket every agent connects to, read by one selector thread.

Each connection is one process mpscope watches, a built-in worker or a process of a
watched program (its PID comes from the socket's peer credentials, not from what it
claims). Its ``hello`` brings the read ends of its stdout/stderr pipes. With ``echo``
(``mpscope run``: the program's output is also ours) the same thread copies what arrives
on them to our own terminal, byte for byte, and into a pipe that the dashboard's
OutputCapture reads line by line; without it (built-in workers, whose output is the
page's only) the OutputCapture reads them directly.
"""

from __future__ import annotations

import array
import hmac
import logging
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable

from mpscope_agent import protocol

logger = logging.getLogger(__name__)

MAX_FDS = 4
NICE = 10  # this thread's niceness (see _run)
# A line-buffered print() writes each argument on its own: the terminal gets whole lines, so
# that processes printing at once do not mix words; a partial line (a prompt) waits this long.
PARTIAL_LINE_DELAY = 0.05
MAX_HELLO = 64 * 1024  # a connection that sends more than this before its hello is not an agent
TERMINAL_FD = {"stdout": 1, "stderr": 2}


class AgentConnection:
    """One process's connection: its PID, whether it said hello, and unread bytes."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid
        self.greeted = False
        self.buffered = b""
        self.fds: list[int] = []  # descriptors received before the hello was complete
        self.write_lock = threading.Lock()

    def send(self, message: dict) -> bool:
        data = protocol.line(message)
        with self.write_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                return False
        return True


class AgentListener:
    """Accepts agents, relays their output and hands their messages to ``on_message(pid, message)``."""

    def __init__(
        self,
        path: str,
        key: str,
        on_message: Callable[[int, dict], None],
        on_gone: Callable[[int], None],
        attach_output: Callable[[int, dict[str, int]], None],
        echo: bool = True,
    ) -> None:
        self.key = key
        self.echo = echo
        self.on_message = on_message
        self.on_gone = on_gone
        self.attach_output = attach_output
        self.connections: dict[int, AgentConnection] = {}
        self.after_drop: dict[int, Callable[[], None]] = {}  # PID -> what to do once it is gone
        self.lock = threading.Lock()
        self.open_streams: dict[int, int] = {}  # PID -> its output pipes not yet at EOF
        self.streams_closed = threading.Condition(self.lock)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(256)
        self.server.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.server, selectors.EVENT_READ, ("accept", None))
        self.wake_r, self.wake_w = os.pipe()
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        self.stopping = False
        self.partial: dict[int, tuple[bytes, float]] = {}  # relayed fd -> (unfinished line, since)
        self.terminal_of: dict[int, int] = {}  # relayed fd -> our fd 1 or 2
        self.thread = threading.Thread(target=self._run, name="mpscope-agents", daemon=True)
        self.thread.start()

    def send(self, pid: int, message: dict) -> bool:
        """Send ``message`` to process ``pid``'s agent; False if it is not connected."""
        with self.lock:
            conn = self.connections.get(pid)
        return conn is not None and conn.send(message)

    def wait_output(self, pid: int | None = None, timeout: float = 1.0) -> bool:
        """Wait until ``pid``'s output pipes (all, if None) reached EOF and were copied out."""
        with self.streams_closed:
            return self.streams_closed.wait_for(
                lambda: not self.open_streams.get(pid) if pid is not None else not self.open_streams, timeout
            )

    def when_gone(self, pid: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every message ``pid`` sent was handled: when its connection
        closes (on the listener thread), or now if it is not connected."""
        with self.lock:
            if pid in self.connections:
                self.after_drop[pid] = callback
                return
        callback()

    def close(self) -> None:
        self.wait_output(timeout=1.0)  # what the program wrote last still reaches the terminal
        self.stopping = True
        os.write(self.wake_w, b"x")
        self.thread.join(2)
        # ours to close, not the thread's: it may see ``stopping`` and end before the write
        os.close(self.wake_w)

    # -- the selector thread ----------------------------------------------------
    def _run(self) -> None:
        # This thread does the dashboard's work per op of the program's Managers (replay,
        # encode, push): at a lower CPU priority than the program
        lower_priority()
        while not self.stopping:
            due = [since + PARTIAL_LINE_DELAY for _, since in self.partial.values()]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            for key, _ in self.selector.select(timeout):
                kind, target = key.data
                try:
                    if kind == "accept":
                        self._accept()
                    elif kind == "conn":
                        self._read(target)
                    elif kind == "relay":
                        self._relay(key.fd, *target)
                except Exception:  # one bad connection must not stop the watch of all the others
                    logger.exception("error while reading the program's agents")
            self._flush_partial_lines(time.monotonic() - PARTIAL_LINE_DELAY)
        self._flush_partial_lines()
        for key in list(self.selector.get_map().values()):
            kind, target = key.data
            if kind == "relay":
                os.close(target[1])
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
            else:
                os.close(key.fd)

    def _accept(self) -> None:
        try:
            sock, _ = self.server.accept()
        except BlockingIOError:
            return
        except OSError as exc:  # out of descriptors: leave it in the backlog and retry soon
            logger.warning("cannot accept a process of the program: %s", exc.strerror)
            time.sleep(0.05)
            return
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():
            sock.close()
            return
        conn = AgentConnection(sock, pid)
        self.selector.register(sock, selectors.EVENT_READ, ("conn", conn))

    def _read(self, conn: AgentConnection) -> None:
        fds = array.array("i")
        try:
            data, ancdata, _flags, _addr = conn.sock.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
        except OSError:
            data, ancdata = b"", []
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
        if fds and conn.greeted:  # only the hello may carry descriptors
            for fd in fds:
                os.close(fd)
        elif fds:
            conn.fds.extend(fds)
        if not data:
            for fd in conn.fds:
                os.close(fd)
            self._drop(conn, greeted=conn.greeted)
            return
        conn.buffered += data
        if not conn.greeted and len(conn.buffered) > MAX_HELLO:
            logger.warning("refused an agent connection from PID %d: no hello", conn.pid)
            for fd in conn.fds:
                os.close(fd)
            self._drop(conn, greeted=False)
            return
        *lines, conn.buffered = conn.buffered.split(b"\n")
        for raw in lines:
            message = protocol.parse(raw)
            if message is None:
                continue
            if not conn.greeted:
                fds, conn.fds = conn.fds, []
                refused = _refusal(message, self.key)
                if refused:
                    logger.warning("refused an agent connection from PID %d: %s", conn.pid, refused)
                    for fd in fds:
                        os.close(fd)
                    self._drop(conn, greeted=False)
                    return
                conn.greeted = True
                with self.lock:
                    self.connections[conn.pid] = conn
                self.on_message(conn.pid, message)
                self._take_streams(conn.pid, message.get("streams", []), fds)
            else:
                self.on_message(conn.pid, message)

    def _take_streams(self, pid: int, names: list, fds) -> None:
        relays = {}
        for name, fd in zip(names, fds, strict=False):
            if name not in TERMINAL_FD:
                os.close(fd)
                continue
            if not self.echo:
                relays[name] = fd
                continue
            try:
                read_end, write_end = os.pipe()
            except OSError:  # out of descriptors: the page still gets this stream, the terminal not
                logger.warning("too many open files: PID %d's %s goes to the page only", pid, name)
                relays[name] = fd
                continue
            relays[name] = read_end
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, ("relay", (name, write_end, pid)))
            with self.lock:
                self.open_streams[pid] = self.open_streams.get(pid, 0) + 1
        for fd in fds[len(names) :]:
            os.close(fd)
        if relays:
            self.attach_output(pid, relays)

    def _relay(self, fd: int, name: str, write_end: int, pid: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        terminal = TERMINAL_FD[name]
        if not data:
            self._flush_partial_lines(fd=fd, terminal=terminal)
            self.selector.unregister(fd)
            os.close(fd)
            os.close(write_end)
            with self.streams_closed:
                self.open_streams[pid] -= 1
                if not self.open_streams[pid]:
                    del self.open_streams[pid]
                self.streams_closed.notify_all()
            return
        _write_all(write_end, data)  # the page's reader splits lines itself
        unfinished, since = self.partial.pop(fd, (b"", time.monotonic()))
        data = unfinished + data
        cut = data.rfind(b"\n") + 1
        _write_all(terminal, data[:cut])
        if cut < len(data):
            self.partial[fd] = (data[cut:], since if unfinished else time.monotonic())
        self.terminal_of[fd] = terminal

    def _flush_partial_lines(
        self, older_than: float = float("inf"), fd: int | None = None, terminal: int = 1
    ) -> None:
        """Write out unfinished lines that waited long enough (or ``fd``'s, at its EOF)."""
        if fd is not None:
            if fd in self.partial:
                _write_all(terminal, self.partial.pop(fd)[0])
            self.terminal_of.pop(fd, None)
            return
        for waiting, (unfinished, since) in list(self.partial.items()):
            if since <= older_than:
                del self.partial[waiting]
                _write_all(self.terminal_of.get(waiting, 1), unfinished)

    def _drop(self, conn: AgentConnection, greeted: bool = True) -> None:
        self.selector.unregister(conn.sock)
        conn.sock.close()
        if greeted:
            with self.lock:
                if self.connections.get(conn.pid) is conn:
                    del self.connections[conn.pid]
                after = self.after_drop.pop(conn.pid, None)
            self.on_gone(conn.pid)
            if after is not None:
                after()


def _refusal(hello: dict, key: str) -> str:
    """Why a first message is not an agent's hello we accept ("" if it is)."""
    if hello.get("t") != protocol.HELLO or not hmac.compare_digest(str(hello.get("key")), key):
        return "bad key"
    if hello.get("v") != protocol.VERSION:
        return f"protocol version {hello.get('v')!r}, not {protocol.VERSION} (another mpscope's agent?)"
    return ""


def lower_priority() -> None:
    """Run the calling thread at a lower CPU priority than the program (this thread only: the
    program is started from another), so that it yields the cores to the program when both
    want them; watching slows the program less, and the page catches up after."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError:
            return  # a closed terminal or reader: the page keeps what it got
