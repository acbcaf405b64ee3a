"""The Unix socket every agent connects to, read by one selector thread.

Each connection is one process mpscope watches, a built-in worker or a process of a
watched program (its PID comes from the socket's peer credentials, not from what it
claims). Its ``hello`` brings the read ends of its stdout/stderr pipes. With ``echo``
(``mpscope run``: the program's output is also ours) the same thread copies what arrives
on them to our own terminal, byte for byte, and into a pipe that the dashboard's
OutputCapture reads line by line (:mod:`.relay`); without it (built-in workers, whose
output is the page's only) the OutputCapture reads them directly.
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable

from mpscope_agent import protocol, task_log

from ..priority import lower_priority
from .connection import MAX_FDS, NO_HELLO, TOO_LONG, AgentConnection, refusal
from .relay import PARTIAL_LINE_DELAY, TerminalRelay

logger = logging.getLogger(__name__)

HELLO_WITHIN = 5.0  # seconds: a connection that has not said hello by then is dropped
# One message line: a Manager's journal batch may carry a value of hundreds of MiB; a longer
# line drops the connection (what it costs to keep is bounded, and linear in its length).
MAX_LINE = 512 * 1024 * 1024
COMPLAIN_EVERY = 1.0  # seconds between two log lines about unusable messages


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
        max_line: int = MAX_LINE,
        hello_within: float = HELLO_WITHIN,
        nice: bool = True,
    ) -> None:
        """``nice``: the thread yields the cores to the program (see priority.py)."""
        self.key = key
        self.directory = os.path.dirname(path)  # the run's private directory (processes' task logs)
        self.max_line = max_line
        self.hello_within = hello_within
        self.nice = nice
        self.ungreeted: dict[AgentConnection, None] = {}  # accepted, no hello yet: oldest first
        self.complained = 0.0  # when the last unusable message was logged
        self.on_message = on_message
        self.on_gone = on_gone
        self.attach_output = attach_output
        self.connections: dict[int, AgentConnection] = {}
        self.after_drop: dict[int, Callable[[], None]] = {}  # PID -> what to do once it is gone
        self.gone_requests: list[tuple[int, Callable[[], None]]] = []  # when_gone's, for the thread
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(256)
        self.server.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.server, selectors.EVENT_READ, ("accept", None))
        self.wake_r, self.wake_w = os.pipe()
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        self.stopping = False
        self.terminal = TerminalRelay(self.selector, echo)
        self.thread = threading.Thread(target=self._run, name="mpscope-agents", daemon=True)
        self.thread.start()

    def send(self, pid: int, message: dict) -> bool:
        """Send ``message`` to process ``pid``'s agent; False if it is not connected."""
        with self.lock:
            conn = self.connections.get(pid)
        return conn is not None and conn.send(message)

    def when_gone(self, pid: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the listener thread) once every message the reaped process
        ``pid`` sent was handled: when its connection closes, or at once if it never connected.

        Asked of the listener thread, not answered here: a process that ended a moment after
        it connected may still wait in the listen backlog, or its hello be unread, and only
        that thread can take them in first (else its late hello would list it anew, running).
        """
        with self.lock:
            if not self.stopping:
                self.gone_requests.append((pid, callback))
                os.write(self.wake_w, b"g")
                return
        callback()  # closing: the thread is gone, and so is every connection

    def close(self) -> None:
        self.terminal.wait_output(timeout=1.0)  # what the program wrote last still reaches the terminal
        with self.lock:
            self.stopping = True
            requests, self.gone_requests = self.gone_requests, []
        for _pid, callback in requests:  # the thread will not answer them now
            callback()
        try:
            os.write(self.wake_w, b"x")
        except BrokenPipeError:
            pass  # the thread saw ``stopping`` and ended (closing the read end) before the write
        self.thread.join(2)
        os.close(self.wake_w)  # ours to close, not the thread's: see above

    # -- the selector thread ----------------------------------------------------
    def _run(self) -> None:
        # This thread does the dashboard's work per op of the program's Managers (replay,
        # encode, push): at a lower CPU priority than the program
        if self.nice:
            lower_priority()
        while not self.stopping:
            due = self.terminal.due()
            if self.ungreeted:
                due.append(next(iter(self.ungreeted)).accepted_at + self.hello_within)
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            for key, _ in self.selector.select(timeout):
                kind, target = key.data
                try:
                    if kind == "accept":
                        self._accept()
                    elif kind == "conn":
                        self._read(target)
                    elif kind == "relay":
                        self.terminal.copy(key.fd, *target)
                    elif kind == "wake":
                        os.read(self.wake_r, 4096)
                        self._settle_gone()
                except Exception:  # one bad connection must not stop the watch of all the others
                    logger.exception("error while reading the program's agents")
            self.terminal.flush_partial_lines(time.monotonic() - PARTIAL_LINE_DELAY)
            self._drop_silent(time.monotonic() - self.hello_within)
        self.terminal.flush_partial_lines()
        for key in list(self.selector.get_map().values()):
            kind, target = key.data
            if kind == "relay":
                os.close(target[1])
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
            else:
                os.close(key.fd)

    def _settle_gone(self) -> None:
        """Answer when_gone: take in what the reaped processes sent, then wait for their drop or not.

        A reaped process sends nothing more, so its connection (accepted now if it still
        waits in the backlog) holds its hello already, or never will.
        """
        with self.lock:
            requests, self.gone_requests = self.gone_requests, []
        if not requests:
            return
        while self._accept():
            pass
        reaped = {pid for pid, _ in requests}
        for conn in [c for c in self.ungreeted if c.pid in reaped]:
            while conn in self.ungreeted and select.select([conn.sock], [], [], 0)[0]:
                self._read(conn)
        for pid, callback in requests:
            with self.lock:
                if pid in self.connections:
                    self.after_drop[pid] = callback
                    continue
            callback()

    def _accept(self) -> bool:
        """Accept one waiting connection; False if none was waiting (or none could be taken)."""
        try:
            sock, _ = self.server.accept()
        except BlockingIOError:
            return False
        except OSError as exc:  # out of descriptors: leave it in the backlog and retry soon
            logger.warning("cannot accept a process of the program: %s", exc.strerror)
            time.sleep(0.05)
            return False
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():
            sock.close()
            return True
        conn = AgentConnection(sock, pid)
        self.selector.register(sock, selectors.EVENT_READ, ("conn", conn))
        self.ungreeted[conn] = None
        return True

    def _drop_silent(self, accepted_before: float) -> None:
        """Drop the connections that said no hello in time (anything they were read was not one)."""
        while self.ungreeted:
            conn = next(iter(self.ungreeted))
            if conn.accepted_at > accepted_before:
                return
            logger.warning(
                "refused an agent connection from PID %d: no hello within %.0f s", conn.pid, self.hello_within
            )
            self._refuse(conn)

    def _refuse(self, conn: AgentConnection) -> None:
        """Drop a connection that never became an agent's, with what it sent."""
        conn.close_fds()
        self._drop(conn, greeted=False)

    def _read(self, conn: AgentConnection) -> None:
        data = conn.receive()
        if len(conn.fds) > MAX_FDS:
            logger.warning(
                "refused an agent connection from PID %d: over %d descriptors before its hello",
                conn.pid,
                MAX_FDS,
            )
            self._refuse(conn)
            return
        if not data:
            conn.close_fds()
            self._drop(conn, greeted=conn.greeted)
            return
        for raw in conn.lines(data, self.max_line):
            if raw is TOO_LONG:
                logger.warning(
                    "dropped the agent connection of PID %d: a line over %d MiB",
                    conn.pid,
                    self.max_line >> 20,
                )
                if conn.greeted:
                    self._drop(conn)
                else:
                    self._refuse(conn)
                return
            if raw is NO_HELLO:
                logger.warning("refused an agent connection from PID %d: no hello", conn.pid)
                self._refuse(conn)
                return
            try:
                message = protocol.parse(raw)
            except RecursionError:  # nested deeper than the parser goes
                message = None
            if message is None or not isinstance(message.get("t"), str):
                self._complain(conn.pid, "a line that is not a message")
                continue
            if not conn.greeted:
                fds, conn.fds = conn.fds, []
                refused = refusal(message, self.key)
                if refused:
                    logger.warning("refused an agent connection from PID %d: %s", conn.pid, refused)
                    for fd in fds:
                        os.close(fd)
                    self._drop(conn, greeted=False)
                    return
                conn.greeted = True
                self.ungreeted.pop(conn, None)
                with self.lock:
                    self.connections[conn.pid] = conn
                self.on_message(conn.pid, message)
                streams = message.get("streams")
                relays = self.terminal.take_streams(
                    conn.pid, streams if isinstance(streams, list) else [], fds
                )
                if relays:
                    self.attach_output(conn.pid, relays)
                continue
            try:
                self.on_message(conn.pid, message)
            except Exception as exc:  # one message mpscope cannot use: not the rest of the read
                self._complain(conn.pid, f"a {message['t'][:40]!r} message mpscope cannot use ({exc!r:.200})")

    def _complain(self, pid: int, what: str) -> None:
        """One short log line, at most one a second, for a message that was skipped."""
        now = time.monotonic()
        if now - self.complained >= COMPLAIN_EVERY:
            self.complained = now
            logger.warning("PID %d sent %s: skipped", pid, what)

    def _drop(self, conn: AgentConnection, greeted: bool = True) -> None:
        self.ungreeted.pop(conn, None)
        conn.chunks, conn.size = [], 0
        self.selector.unregister(conn.sock)
        conn.sock.close()
        if greeted:
            with self.lock:
                if self.connections.get(conn.pid) is conn:
                    del self.connections[conn.pid]
                after = self.after_drop.pop(conn.pid, None)
            self._read_task_log(conn.pid)
            self.on_gone(conn.pid)
            if after is not None:
                after()

    def _read_task_log(self, pid: int) -> None:
        """The task events ``pid`` logged but had not sent (mpscope_agent/task_log.py): a worker
        that was stopped or died between two of its writer's sends said them there."""
        for raw in task_log.unsent(self.directory, pid):
            message = protocol.parse(raw)
            if message is None or message.get("t") != protocol.TASK:
                continue
            try:
                self.on_message(pid, message)
            except Exception as exc:  # as for a message read from the socket
                self._complain(pid, f"a task event mpscope cannot use ({exc!r:.200})")
