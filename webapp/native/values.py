"""The program's own mp.Value, Array, RawValue and RawArray: one value from every process's reading.

The block is shared, so every process that has the object reads the same memory; each
says what it read and when it last saw it change (``at``). The freshest reading is the
value: after the program's end, the last process to exit read it last. The Manager
kinds' shapes are kept (``{"typecode", "value"}``, ``{"typecode", "items"}``), with
``raw`` (made without a lock: RawValue, RawArray) and an Array's ``length`` (its items
are the first 1,000).
"""

from __future__ import annotations

from sharedstate.encoding import encode

from .objects import merger


def freshest(facts: dict[int, dict]) -> dict:
    """The facts of the process that saw the object change last ({} if none said anything)."""
    said = [f for f in facts.values() if isinstance(f.get("at"), (int, float))]
    return max(said, key=lambda f: f["at"]) if said else {}


def _common(facts: dict[int, dict], latest: dict) -> dict:
    raw = next((f["raw"] for f in facts.values() if isinstance(f.get("raw"), bool)), None)
    out = {"typecode": str(latest.get("typecode") or "?")[:40], "raw": raw}
    return out


@merger("Value")
def merge_value(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    latest = freshest(facts)
    return {**_common(facts, latest), "value": encode(latest.get("value"))}


@merger("Array")
def merge_array(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    latest = freshest(facts)
    items = latest.get("items") if isinstance(latest.get("items"), list) else []
    value = {**_common(facts, latest), "items": [encode(item) for item in items[:1000]]}
    length = latest.get("length")
    value["length"] = length if isinstance(length, int) else len(value["items"])
    if isinstance(latest.get("text"), str):
        value["text"] = latest["text"][:200]  # a char array's text, up to its first NUL
    return value
