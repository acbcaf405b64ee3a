"""JSON with parts that are already JSON: big encoded objects are serialised once and spliced in.

A snapshot of 100,000 dict entries costs ~150 ms to serialise from Python values; the
mirror keeps each entry's JSON text and hands over :class:`RawJSON` for the big parts, so
``GET /api/state`` and the ``snapshot`` event only join text, and a payload encoded once
(a broadcast, a shared snapshot) is sent as RawJSON to every client. RawJSON may be an
item of a list (an event packet) or a top-level value of a dict, so payloads without any
are serialised exactly as before, at no extra cost.
This module is also the Socket.IO server's JSON module (``dumps``/``loads``).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

loads = json.loads
_MARK = f"\x00mpscope-raw-{secrets.token_hex(8)}-"


class RawJSON(str):
    """Text that is already valid JSON, to be written as is."""


def _raw_values(payload: Any) -> dict | None:
    """The dict of top-level values to splice, or None when there are none."""
    if type(payload) is dict and any(type(v) is RawJSON for v in payload.values()):
        return payload
    return None


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps``, writing RawJSON verbatim: items of a list (an event packet
    ``[name, *args]``) and top-level values of a dict (or of a dict in such a list)."""
    if type(obj) is list and any(type(item) is RawJSON or _raw_values(item) is not None for item in obj):
        # one join (a RawJSON can be megabytes: each ``+`` would copy it again)
        parts = ["["]
        for item in obj:
            parts += (item if type(item) is RawJSON else dumps(item, **kwargs), ",")
        parts[-1] = "]"
        return "".join(parts)
    if _raw_values(obj) is None:
        return json.dumps(obj, **kwargs)
    raws = {}
    swapped = {}
    for key, value in obj.items():
        if type(value) is RawJSON:
            mark = f"{_MARK}{len(raws)}"
            raws[json.dumps(mark)] = value
            value = mark
        swapped[key] = value
    text = json.dumps(swapped, **kwargs)
    for mark, raw in raws.items():
        text = text.replace(mark, raw, 1)
    return text
