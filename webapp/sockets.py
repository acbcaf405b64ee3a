"""The app's one SocketIO object, bound to the app in ``create_app``, and its JSON codec."""

from __future__ import annotations

import json
from typing import Any

from flask_socketio import SocketIO

from . import rawjson

socketio = SocketIO()

MAX_INT_DIGITS = 100  # python-engineio's own limit: int() costs time quadratic in the digits


def _int_or_float(digits: str) -> int | float:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


class WireJSON:
    """The JSON module Socket.IO packets are encoded and decoded with.

    python-engineio's module raises ValueError for an integer of more than 100 digits;
    raised while decoding a packet, that is logged as an error and the event is never
    answered. Here such an integer becomes a float (inf when huge): the event goes to
    its handler, and every command refuses a float where it wants an integer (400).
    Encoding writes a snapshot's pre-serialised parts as they are (:mod:`webapp.rawjson`).
    """

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return rawjson.dumps(*args, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_int", _int_or_float)
        return json.loads(text, **kwargs)
