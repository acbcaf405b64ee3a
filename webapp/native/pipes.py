"""A Pipe's value: which processes hold each end, what each sent and received, who waits in recv().

Each process's agent says which ends of the Pipe it holds (read from its descriptors, so an
end a fork child never closed counts), and how many messages it sent and received through
them (``mpscope_agent/native_pipes.py``). A process that ended holds nothing (the OS closed
its descriptors). The ends are ``r``/``w`` for a one-way Pipe, ``a``/``b`` for a duplex one
(``a`` the first Connection ``Pipe()`` returned). docs/objects.md gives the shape.
"""

from __future__ import annotations

from .objects import merger

RECV_CALLS = ("recv", "recv_bytes", "recv_bytes_into")


@merger("Pipe")
def merge_pipe(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    duplex = any(said.get("duplex") for said in facts.values())
    first = next((said["first"] for said in facts.values() if said.get("first") in ("a", "b")), "a")
    # the agents name a duplex Pipe's ends by inode ("a" the lower); the page by Pipe()'s order
    rename = {"a": "a", "b": "b"} if first == "a" else {"a": "b", "b": "a"}
    names = ("a", "b") if duplex else ("r", "w")
    held: dict[str, list[int]] = {name: [] for name in names}
    by: dict[str, dict] = {}
    for pid in sorted(facts):
        said = facts[pid]
        if pid not in ended:
            for key in said.get("held") or []:
                name = rename.get(key, key) if duplex else key
                if name in held:
                    held[name].append(pid)
        by[str(pid)] = {"sent": _count(said.get("sent")), "received": _count(said.get("received"))}
    return {
        "duplex": duplex,
        "ends": [{"end": name, "held_by": held[name]} for name in names],
        "by": by,
        "sent": sum(b["sent"] for b in by.values()),
        "received": sum(b["received"] for b in by.values()),
        "blocked": [
            {"pid": pid, "call": wait.get("call"), "since": wait.get("since"), "text": wait.get("text")}
            for pid, wait in sorted(blocked.items())
            if pid not in ended
        ],
    }


def writers_of(value: dict, reader: int) -> set[int]:
    """The live processes that could write what ``reader`` waits to receive: the holders of the
    end(s) it does not read from (a one-way Pipe's ``w``; a duplex one's other end — both, if
    ``reader`` holds both)."""
    ends = {end.get("end"): set(end.get("held_by") or []) for end in value.get("ends") or []}
    if not value.get("duplex"):
        return ends.get("w", set())
    mine = [name for name, pids in ends.items() if reader in pids]
    if not mine:
        return ends.get("a", set()) | ends.get("b", set())  # its end is not known: either could write
    return set().union(*(ends.get("b" if name == "a" else "a", set()) for name in mine))


def _count(value) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
