"""The app's one SocketIO object, bound to the app in ``create_app``, and its JSON codec."""

from __future__ import annotations

import json
from typing import Any

from flask_socketio import SocketIO

socketio = SocketIO()

MAX_INT_DIGITS = 100  # python-engineio's own limit: int() costs time quadratic in the digits


def _int_or_float(digits: str) -> int | float:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


class RawJSON(str):
    """JSON text already encoded, sent as it is (the argument of an event).

    A snapshot of a big state is encoded once and shared; python-socketio would
    otherwise walk it (looking for bytes) and encode it again for each send.
    """


class WireJSON:
    """The JSON module Socket.IO packets are encoded and decoded with.

    An event argument that is :class:`RawJSON` is sent as the text it holds.

    python-engineio's module raises ValueError for an integer of more than 100 digits;
    raised while decoding a packet, that is logged as an error and the event is never
    answered. Here such an integer becomes a float (inf when huge): the event goes to
    its handler, and every command refuses a float where it wants an integer (400).
    """

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        if isinstance(obj, list) and any(isinstance(item, RawJSON) for item in obj):
            # an event packet: [name, *args] with an argument already encoded
            parts = (item if isinstance(item, RawJSON) else json.dumps(item, **kwargs) for item in obj)
            return "[" + ",".join(parts) + "]"
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_int", _int_or_float)
        return json.loads(text, **kwargs)
