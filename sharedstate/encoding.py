"""Turn any Python value a worker stores into JSON that keeps its type and stays small.

The encoding (documented in the README, "State encoding"):

* ``str``, ``bool``, ``None``, ``int`` within ±2**53 and non-integral finite ``float``
  are plain JSON values, so ``1``, ``"2"`` and ``0.25`` stay distinguishable.
* Everything else is a tagged object ``{"$type": NAME, ...}``:
  ``{"$type": "float", "repr": "1.0"}`` (integral, inf, nan), ``{"$type": "int", "repr": ...}``
  (beyond JSON's safe range), ``{"$type": "tuple"|"set"|"frozenset", "items": [...]}``,
  ``{"$type": "bytes", "repr": "b'..'"}``, ``{"$type": "dict", "items": [[k, v], ...]}`` for
  dicts whose keys are not all strings, ``{"$type": "proxy", "repr": "<list proxy to l>"}``
  for a proxy stored inside a value, ``{"$type": "unloadable", "repr": "..."}`` for a value
  the server cannot unpickle, and ``{"$type": "<class name>", "repr": "..."}`` for any
  other object.
* Lists are JSON arrays; dicts with only string keys are JSON objects.
* Long strings, big containers and deep nesting are cut; a cut value carries
  ``"truncated": true`` and its full ``"length"``.

The shared dict itself is sent as a list of ``[key, value]`` pairs in insertion order,
both encoded as above, because JSON object keys can only be strings.
"""

from __future__ import annotations

import math

from .carry import SharedRef, Unloadable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Values that stand for what the server could not carry (sharedstate.carry), named for what they are.
CARRIED = {SharedRef: "proxy", Unloadable: "unloadable"}
MAX_STR = 1000
MAX_ITEMS = 100
MAX_DEPTH = 6
SAFE_INT = 2**53


def _cut_str(text: str) -> Any:
    if len(text) <= MAX_STR:
        return text
    return {"$type": "str", "text": text[:MAX_STR], "truncated": True, "length": len(text)}


def _tagged_repr(value: Any, name: str | None = None) -> dict:
    try:
        text = repr(value)
    except Exception as exc:  # a user's __repr__ may raise; show that instead
        text = f"<unrepresentable: {type(exc).__name__}>"
    out = {"$type": name or type(value).__name__, "repr": text[:MAX_STR]}
    if len(text) > MAX_STR:
        out.update(truncated=True, length=len(text))
    return out


def _items(values: Any, depth: int) -> tuple[list, dict]:
    out, extra = [], {}
    for i, item in enumerate(values):
        if i == MAX_ITEMS:
            extra = {"truncated": True, "length": len(values)}
            break
        out.append(encode(item, depth + 1))
    return out, extra


def encode(value: Any, depth: int = 0) -> Any:
    """Return a JSON-safe, typed and bounded representation of ``value``."""
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        return value if len(value) <= MAX_STR else _cut_str(value)
    if kind is int:
        return value if -SAFE_INT < value < SAFE_INT else _tagged_repr(value, "int")
    if kind is float:
        if math.isfinite(value) and not value.is_integer():
            return value
        return {"$type": "float", "repr": repr(value)}
    if depth >= MAX_DEPTH:
        return _tagged_repr(value)
    if kind is list:
        items, extra = _items(value, depth)
        return items if not extra else {"$type": "list", "items": items, **extra}
    if kind in (tuple, set, frozenset):
        items, extra = _items(value, depth)
        return {"$type": kind.__name__, "items": items, **extra}
    if kind is dict:
        return _encode_dict(value, depth)
    if kind in (bytes, bytearray):
        return _tagged_repr(value)
    return _tagged_repr(value, CARRIED.get(kind))


def _encode_dict(value: dict, depth: int) -> Any:
    pairs = list(value.items())[:MAX_ITEMS]
    extra = {"truncated": True, "length": len(value)} if len(value) > MAX_ITEMS else {}
    if not extra and "$type" not in value and all(type(k) is str for k, _ in pairs):
        return {k: encode(v, depth + 1) for k, v in pairs}
    items = [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in pairs]
    return {"$type": "dict", "items": items, **extra}


def encode_pairs(entries: dict) -> list:
    """Encode the shared dict as ``[[key, value], ...]`` in insertion order."""
    return [[encode(k), encode(v)] for k, v in entries.items()]


def encode_list(items: list) -> list:
    """Encode the shared list element by element (the list itself is never cut)."""
    return [encode(v) for v in items]
