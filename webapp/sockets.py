"""The app's one SocketIO object, bound to the app in ``create_app``, its JSON codec and client manager."""

from __future__ import annotations

import json
import threading
from typing import Any

import socketio as python_socketio
from flask_socketio import SocketIO

from . import rawjson

socketio = SocketIO()

MAX_INT_DIGITS = 100  # python-engineio's own limit: int() costs time quadratic in the digits


def _int_or_float(digits: str) -> int | float:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


class WireJSON:
    """The JSON module Socket.IO packets are encoded and decoded with.

    An event argument that is :class:`~webapp.rawjson.RawJSON` is sent as the text it holds:
    a snapshot of a big state is encoded once and shared; python-socketio would otherwise
    walk it (looking for bytes) and encode it again for each send.

    python-engineio's module raises ValueError for an integer of more than 100 digits;
    raised while decoding a packet, that is logged as an error and the event is never
    answered. Here such an integer becomes a float (inf when huge): the event goes to
    its handler, and every command refuses a float where it wants an integer (400).
    """

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return rawjson.dumps(*args, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_int", _int_or_float)
        return json.loads(text, **kwargs)


class ClientManager(python_socketio.Manager):
    """python-socketio's client manager, with its connection bookkeeping under one lock.

    Its table of pending connections is a dict of lists that connect and disconnect change,
    and in threading mode they run in different threads: with clients connecting and
    leaving at once, one found its namespace's list deleted under it (a KeyError logged
    with its traceback, and a client left half connected).
    """

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()

    def pre_connect(self, eio_sid: str, namespace: str) -> Any:
        with self.lock:
            return super().pre_connect(eio_sid, namespace)

    def connect(self, sid: str, namespace: str) -> Any:
        with self.lock:
            return super().connect(sid, namespace)

    def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> Any:
        with self.lock:
            return super().disconnect(sid, namespace, **kwargs)

    def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> Any:
        with self.lock:
            return super().enter_room(sid, namespace, room, eio_sid=eio_sid)

    def leave_room(self, sid: str, namespace: str, room: Any) -> Any:
        with self.lock:
            return super().leave_room(sid, namespace, room)
