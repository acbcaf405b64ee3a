"""What every kind's encoded replica shares: encoding a journal entry's args, canonical keys."""

from __future__ import annotations

import json

from ..encoding import encode, encode_list

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

SEPARATORS = (",", ":")


def canon(key: Any) -> str:
    """A string that identifies an encoded value, for use as a Python dict key."""
    if type(key) is str:
        return "s" + key
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def json_arrays(chunks: Iterable[tuple[bytes, bytes]]) -> tuple[list[bytes], list[bytes]]:
    """``(value, writers)`` pieces of two JSON arrays from ``(items, writers)`` chunks, each the
    JSON of a run of elements without its brackets (no chunk may be empty)."""
    value, writers = [b"["], [b"["]
    for items, who in chunks:
        value += (items, b",")
        writers += (who, b",")
    if len(value) > 1:
        value.pop()
        writers.pop()
    value.append(b"]")
    writers.append(b"]")
    return value, writers


class Replica:
    """One object's state as clients see it (encoded), kept current by replaying encoded ops.

    The server's mirror, the tests' clients and the benchmarks all replay through these
    classes, so there is one replayer to keep right. ``OPS`` names each op's fields in the
    order of the journal entry's args; a field called ``values`` is a whole list.
    """

    OPS: dict[str, tuple[str, ...]] = {}
    PAGES = False  # page() builds only the page asked for (a dict's or list's)

    @classmethod
    def op_fields(cls, op: str, args: tuple) -> Iterable[tuple[str, Any]]:
        """A journal entry's args encoded, as ``(field, value)`` pairs of its op (for ``dict.update``)."""
        names = cls.OPS.get(op, ())
        if "values" not in names:  # nearly every op: one C-level pass (a replay's hottest line)
            return zip(names, map(encode, args), strict=False)
        pairs = zip(names, args, strict=False)
        return [(name, encode_list(arg) if name == "values" else encode(arg)) for name, arg in pairs]

    @classmethod
    def from_raw(cls, raw: Any) -> Replica:
        raise NotImplementedError

    def apply(self, op: dict) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError

    def writers(self) -> list | None:
        return None

    def size(self) -> int:
        return 1

    def page(self, offset: int, end: int | None) -> tuple[list, list | None]:
        """Items ``offset:end`` of a value that is a sequence (or has ``items``), and their writers."""
        value, writers = self.value(), self.writers()
        items = value.get("items") if isinstance(value, dict) else value
        return items[offset:end], None if writers is None else writers[offset:end]

    # -- JSON text, written once per change (snapshots and GET /api/state join it) --------
    def value_json(self) -> str:
        return json.dumps(self.value(), separators=SEPARATORS)

    def writers_json(self) -> str | None:
        writers = self.writers()
        return None if writers is None else json.dumps(writers, separators=SEPARATORS)

    def texts(self) -> tuple[str, str | None]:
        """``(value, writers)`` as JSON text, cached until the next :meth:`changed`."""
        cached = self.__dict__.get("_texts")
        if cached is None:
            cached = self._texts = (self.value_json(), self.writers_json())
        return cached

    def json_pieces(self) -> tuple[list[bytes], list[bytes] | None]:
        """``(value, writers)`` as UTF-8 JSON in pieces (each is ``b"".join(pieces)``), to be
        written one after another without joining them. The pieces are shared: never change them.

        This default is :meth:`texts`, in one piece each; a kind whose value can be big keeps
        its own pieces, so that a change re-encodes only the piece it is in.
        """
        cached = self.__dict__.get("_pieces_of")
        texts = self.texts()
        if cached is None or cached[0] is not texts:
            value, writers = texts
            cached = self._pieces_of = (
                texts,
                ([value.encode()], None if writers is None else [writers.encode()]),
            )
        return cached[1]

    def changed(self) -> None:
        """Forget the cached JSON text: an op was applied."""
        self._texts = None


class PieceReplica(Replica):
    """A kind whose value can be big (dict, list): it keeps its JSON in pieces (its own
    :meth:`json_pieces`), and its whole text is those pieces joined."""

    def value_json(self) -> str:
        return b"".join(self.json_pieces()[0]).decode()

    def writers_json(self) -> str:
        return b"".join(self.json_pieces()[1]).decode()
