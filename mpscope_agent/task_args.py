"""A short text of a Pool or executor task's arguments, for its tooltip on the page.

Only the standard library's plain values are shown as Python would (``1``, ``'a'``,
``(2, 3)``); an instance of any other class is ``<Name object>``: the program's own
``__repr__`` is never called (it may be slow, print, raise or take a lock), nor anything
that could run its code. Texts are cut to ``MAX_TEXT`` characters, containers to their first
few items, and a big int is not written out (CPython refuses past 4,300 digits).
"""

from __future__ import annotations

MAX_TEXT = 80
MAX_ITEMS = 4  # of a container
MAX_STR = 30  # characters of a string or bytes shown
MAX_DEPTH = 2
_SEQUENCES = {tuple: ("(", ")"), list: ("[", "]"), set: ("{", "}"), frozenset: ("frozenset({", "})")}


def _value(value, depth: int) -> str:
    kind = type(value)  # the exact type: a subclass of a builtin may have its own __repr__
    if value is None or kind is bool or kind is float or kind is complex:
        return repr(value)
    if kind is int:
        return repr(value) if value.bit_length() <= 64 else f"<int of {value.bit_length()} bits>"
    if kind is str or kind is bytes:
        text = repr(value[:MAX_STR])
        return text + "…" if len(value) > MAX_STR else text
    if kind in _SEQUENCES or kind is dict:
        if depth >= MAX_DEPTH:
            return "…" if value else repr(kind())
        if kind is dict:
            opening, closing = "{", "}"
            shown = [f"{_value(k, depth + 1)}: {_value(v, depth + 1)}" for k, v in _first(value.items())]
        else:
            opening, closing = _SEQUENCES[kind]
            shown = [_value(item, depth + 1) for item in _first(value)]
        if len(value) > MAX_ITEMS:
            shown.append("…")
        if kind is tuple and len(value) == 1:
            return f"({shown[0]},)"
        if not shown and kind in (set, frozenset):
            return f"{kind.__name__}()"
        return opening + ", ".join(shown) + closing
    return f"<{_type_name(kind)} object>"


def _first(items) -> list:
    out = []
    for item in items:
        if len(out) == MAX_ITEMS:
            break
        out.append(item)
    return out


def _type_name(kind: type) -> str:
    name = type.__dict__["__name__"].__get__(kind)  # the type's own name, never a metaclass property
    return name if isinstance(name, str) else "?"


def call_text(args=(), kwargs=None) -> str | None:
    """``args`` and ``kwargs`` as they would be written in the call, at most ``MAX_TEXT``
    characters (``1, 'a', key=<Job object>``); None if they cannot be read."""
    try:
        parts = [_value(arg, 0) for arg in _first_n(args)]
        if len(args) > MAX_ITEMS * 2:
            parts.append("…")
        for key, value in _first_n((kwargs or {}).items()):
            parts.append(f"{key}={_value(value, 0)}")
        text = ", ".join(parts)
    except Exception:  # anything odd in them: no text rather than a failed task event
        return None
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _first_n(items) -> list:
    out = []
    for item in items:
        if len(out) == MAX_ITEMS * 2:
            break
        out.append(item)
    return out
