"""AgentHub: the dashboard's end of every agent — its private directory, its socket, and who reads what.

Every process mpscope watches reports over one channel (:mod:`mpscope_agent.protocol`):
built-in workers, a watched program's processes and their Managers. The hub owns the
private directory (socket and key) and the listener, and hands each message to the part
that registered for its type (:meth:`on`); the process table's messages it routes itself,
since every mode has one. Nothing here knows which mode the dashboard runs in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mpscope_agent import protocol

from ..output import OutputCapture
from ..processes import ProcessTable
from .listener import AgentListener
from .private_dir import PrivateDir

logger = logging.getLogger(__name__)

MAX_NAME, MAX_ROLE = 200, 40  # a process's name and role as kept and served


class AgentHub:
    """Accepts agents and routes their messages by type."""

    def __init__(self, output: OutputCapture, echo: bool, nice: bool = True) -> None:
        self.dir = PrivateDir()
        self.handlers: dict[str, Callable[[int, dict], None]] = {}
        self.gone_handlers: list[Callable[[int], None]] = []
        self.table: ProcessTable | None = None
        self.listener = AgentListener(
            self.dir.socket_path,
            self.dir.key,
            self._on_message,
            self._on_gone,
            output.attach,
            echo=echo,
            nice=nice,
        )

    @property
    def directory(self) -> str:
        return str(self.dir.path)

    @property
    def key(self) -> str:
        return self.dir.key

    def serve(self, table: ProcessTable) -> None:
        """Report what agents say about processes to ``table`` (their hellos, children, ends, stacks)."""
        self.table = table
        table.ask_stack = self.ask_stack

    def on(self, kind: str, handler: Callable[[int, dict], None]) -> None:
        """Hand every message of type ``kind`` to ``handler(pid, message)`` (on the listener thread)."""
        self.handlers[kind] = handler

    def on_gone(self, handler: Callable[[int], None]) -> None:
        """Call ``handler(pid)`` when a process's connection closes."""
        self.gone_handlers.append(handler)

    def expect(self, pid: int) -> None:
        """mpscope started ``pid`` itself: its output is kept from now on (empty until its hello)."""
        self.listener.attach_output(pid, {})

    def send(self, pid: int, message: dict) -> bool:
        """Send ``message`` to process ``pid``'s agent; False if it is not connected."""
        return self.listener.send(pid, message)

    def ask_stack(self, pid: int, request_id: int) -> bool:
        return self.send(pid, {"t": protocol.STACK, "id": request_id})

    def close(self) -> None:
        self.listener.close()
        self.dir.remove()

    # -- the listener thread ----------------------------------------------------------
    def _on_message(self, pid: int, message: dict) -> None:
        kind, table = message.get("t"), self.table
        if table is not None:
            if kind == protocol.HELLO:
                if message.get("role") == protocol.ROLE_DASHBOARD_MANAGER:
                    return  # not a process of the table: the page shows it apart
                ppid, at = message.get("ppid"), message.get("time")
                table.seen(
                    pid,
                    _text(message.get("role"), MAX_ROLE),
                    _text(message.get("name"), MAX_NAME),
                    at if isinstance(at, (int, float)) and not isinstance(at, bool) else None,
                    ppid=ppid if isinstance(ppid, int) else None,
                )
                return
            if kind == protocol.PROC and _ints(message, "pid"):
                # believed only where the kernel agrees: the PID must be a child of the sender
                # (or of a process of the table: the forkserver), never anyone else's
                ppid = message.get("ppid")
                ppid = ppid if isinstance(ppid, int) else pid  # the sender started it
                role, name = _text(message.get("role"), MAX_ROLE), _text(message.get("name"), MAX_NAME)
                table.child_told(pid, message["pid"], role, name, ppid)
                return
            if kind == protocol.EXIT and _ints(message, "pid", "code"):
                table.exited(message["pid"], message["code"])
                return
            if kind == protocol.STACK and isinstance(message.get("id"), int):
                table.stack_answer(message["id"], message.get("threads") or [])
                return
            if kind == protocol.WAIT:  # the table's, and whoever else follows waits (native locks)
                waiting = message.get("waiting")
                table.waiting(pid, waiting if isinstance(waiting, dict) else None)
            if kind == protocol.ERROR and isinstance(message.get("traceback"), str):
                table.failed(pid, message["traceback"], bool(message.get("manager_lost")))
                return
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(pid, message)

    def _on_gone(self, pid: int) -> None:
        for handler in self.gone_handlers:
            handler(pid)


def _text(value, limit: int) -> str | None:
    """A name or role as a process gave it, kept short (a program may send anything)."""
    return value[:limit] if isinstance(value, str) else None


def _ints(message: dict, *names: str) -> bool:
    return all(
        isinstance(message.get(name), int) and not isinstance(message.get(name), bool) for name in names
    )
