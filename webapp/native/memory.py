"""The program's shared memory blocks (shared_memory.SharedMemory, ShareableList): one value each.

Each process that made, attached to or received a block says whether it still has it
open (mapped: not closed there) and whether its name is gone (unlinked); a
ShareableList's process also says its first items as short reprs, with when it saw them
change (the freshest wins: the memory is shared). ``mapped_by``: every process that
mapped it; ``open_in``: the live ones that have it open now.
"""

from __future__ import annotations

from .objects import merger
from .values import freshest

MAX_PIDS = 200  # of the processes listed: a pool of thousands of short-lived workers is cut


def _block(facts: dict[int, dict], ended: set[int]) -> dict:
    first = next(iter(facts.values()), {})
    size = next((f["size"] for f in facts.values() if isinstance(f.get("size"), int)), None)
    return {
        "name": str(first.get("name") or "?")[:200],
        "size": size,
        "mapped_by": sorted(facts)[:MAX_PIDS],
        "open_in": sorted(pid for pid, f in facts.items() if f.get("open") is True and pid not in ended)[
            :MAX_PIDS
        ],
        "unlinked": any(f.get("unlinked") is True for f in facts.values()),
        "manager": any(f.get("manager") is True for f in facts.values()),
    }


@merger("SharedMemory")
def merge_shared_memory(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    return _block(facts, ended)


@merger("ShareableList")
def merge_shareable_list(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    latest = freshest(facts)
    items = latest.get("items") if isinstance(latest.get("items"), list) else []
    length = latest.get("length")
    return {
        **_block(facts, ended),
        "items": [str(item)[:80] for item in items[:100]],
        "length": length if isinstance(length, int) else len(items),
    }
