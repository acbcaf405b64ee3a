"""JSON with parts that are already JSON: big encoded objects are serialised once and spliced in.

A snapshot of 100,000 dict entries costs ~150 ms to serialise from Python values; the
mirror keeps each entry's JSON text and hands over :class:`RawJSON` for the big parts, so
``GET /api/state`` and the ``snapshot`` event only join text. Only the top-level values
of a dict payload may be RawJSON (that is where the mirror puts them), so payloads
without any (every ``changes`` batch) are serialised exactly as before, at no extra cost.
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
    """``json.dumps``, writing RawJSON top-level values of a dict (or of ``[event, dict]``) verbatim."""
    holder, index = obj, None
    if type(obj) is list and len(obj) == 2 and _raw_values(obj[1]) is not None:
        holder, index = obj[1], 1
    elif _raw_values(obj) is None:
        return json.dumps(obj, **kwargs)
    raws = {}
    swapped = {}
    for key, value in holder.items():
        if type(value) is RawJSON:
            mark = f"{_MARK}{len(raws)}"
            raws[json.dumps(mark)] = value
            value = mark
        swapped[key] = value
    text = json.dumps(swapped if index is None else [obj[0], swapped], **kwargs)
    for mark, raw in raws.items():
        text = text.replace(mark, raw, 1)
    return text
