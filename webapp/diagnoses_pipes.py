"""The Pipe hangs: a reader in ``recv()`` that no process will ever write to.

``unclosed_pipe_end``: the reader waits for data or for the end of file that ``recv()`` turns
into ``EOFError``, but a live process — often the reader itself, which inherited the write
end at fork and never closed it — still holds the write end, and none of the holders can
write: each is the reader or waits in ``join()`` for the reader to end. ``no_writer``: the
same without the reader among the holders (the only writers join it).

Read from the Pipe's value (which live processes hold each end, from their descriptors:
``webapp/native/pipes.py``) and each process's wait. While a process that started less
than ``YOUNG`` seconds ago has not yet said what it holds (a spawn child unpickling its
end), nothing is named: it may be the writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .native.pipes import RECV_CALLS, writers_of

GUIDE = "https://docs.python.org/3/library/multiprocessing.html#programming-guidelines"
YOUNG = 2.0  # seconds: a process younger than this may not have sampled its ends yet
NOT_PROGRAM = ("manager", "worker", "lab")


def with_pipe_hangs(
    found: list[dict],
    by_pid: dict[int, dict],
    live: set[int],
    pipes: list[tuple[str, str, dict]],
    labels: dict[str, str | None],
    name: Callable[[int, dict], str],
) -> list[dict]:
    """``found`` (the other rules' diagnoses) with the Pipe hangs added; a general ``no_writer``
    of a reader whose Pipe end is unclosed gives way to the Pipe's own, which names the fix."""
    hangs = pipe_hangs(by_pid, live, pipes, labels, name, {d["id"] for d in found})
    unclosed = {f"no_writer:{d['pids'][0]}" for d in hangs if d["kind"] == "unclosed_pipe_end"}
    return [d for d in found if d["id"] not in unclosed] + hangs


def pipe_hangs(
    by_pid: dict[int, dict],
    live: set[int],
    pipes: list[tuple[str, str, dict]],
    labels: dict[str, str | None],
    name: Callable[[int, dict], str],
    named: set[str],
    now: float | None = None,
) -> list[dict]:
    """The Pipe hangs among ``pipes`` (``(oid, kind, value)``), named by ``labels``; ``named``: ids
    already given (the general ``no_writer`` rule's), not named twice."""
    now = time.time() if now is None else now
    out = []
    for oid, _kind, value in pipes:
        reported = {int(pid) for pid in (value.get("by") or {}) if str(pid).isdigit()}
        for blocked in value.get("blocked") or []:
            reader = blocked.get("pid")
            waiting = (by_pid.get(reader) or {}).get("waiting") or {}
            if reader not in live or waiting.get("oid") != oid or waiting.get("call") not in RECV_CALLS:
                continue
            writers = writers_of(value, reader) & live
            joiners = {p for p in live if ((by_pid[p].get("waiting") or {}).get("pid")) == reader}
            joiners = {p for p in joiners if by_pid[p]["waiting"].get("call") == "join"}
            if not writers or not writers - {reader} <= joiners:
                continue  # a live writer may still write (or the OS would have said EOF: we miss one)
            unknown = [
                p
                for p in live - reported - joiners - {reader}
                if by_pid[p].get("role") not in NOT_PROGRAM
                and by_pid[p].get("name") != "resource_tracker"  # multiprocessing's own helper (spawn)
                and now - (by_pid[p].get("started_at") or 0) < YOUNG
            ]
            if unknown:
                continue  # a young process may hold the write end and not have said so yet
            what = waiting.get("object") or _short(labels.get(oid)) or "a Pipe"
            if reader in writers:
                out.append(
                    _unclosed(
                        oid, reader, waiting, what, writers, _write_end(labels.get(oid), value), by_pid, name
                    )
                )
            elif f"no_writer:{reader}" not in named:
                out.append(_no_writer(oid, reader, waiting, what, writers, by_pid, name))
    return out


def _unclosed(oid, reader, waiting, what, writers, write_end, by_pid, name) -> dict:
    others = sorted(writers - {reader})
    also = (
        f"; the other holders ({', '.join(name(p, by_pid) for p in others)}) wait in join() for it to end"
        if others
        else ""
    )
    return {
        "id": f"unclosed_pipe_end:{oid}:{reader}",
        "kind": "unclosed_pipe_end",
        "title": "A Pipe's reader waits for an end of file that never comes",
        "text": f"{name(reader, by_pid)} waits in {waiting['call']}() on {what} at {waiting.get('where')}, "
        "but it still holds the write end of that Pipe itself (a fork child inherits both ends)"
        f"{also}. recv() raises EOFError only once every process has closed the write end, and "
        "nobody will write: it waits for ever. Fix: close the write end in every process that "
        f"does not write (e.g. {write_end}.close() first thing in the reader after fork), and in the writer "
        "once it is done. " + GUIDE,
        "pids": [reader, *others],
        "objects": [oid],
    }


def _no_writer(oid, reader, waiting, what, writers, by_pid, name) -> dict:
    holders = ", ".join(name(p, by_pid) for p in sorted(writers))
    return {
        "id": f"no_writer:{reader}",
        "kind": "no_writer",
        "title": f"{waiting['call']}() that nothing can satisfy",
        "text": f"{name(reader, by_pid)} waits in {waiting['call']}() on {what} at {waiting.get('where')}, "
        f"and every process that holds the other end of the Pipe ({holders}) waits in join() for it "
        "to end: nobody will ever send. Fix: send what it waits for (or a sentinel that tells it "
        "to stop), or close the write end, before join(). " + GUIDE,
        "pids": [reader, *sorted(writers)],
        "objects": [oid],
    }


def _write_end(label: str | None, value: dict) -> str:
    """What the program calls the write end: ``w`` for ``r, w = mp.Pipe(duplex=False)``."""
    names = [n.strip() for n in (_short(label) or "").split(",")]
    if not value.get("duplex") and len(names) == 2 and names[1].isidentifier():
        return names[1]
    return "w"


def _short(label: str | None) -> str | None:
    """``r, w`` for ``r, w = mp.Pipe()  · prog.py:9``."""
    if label and " = " in label:
        return label.split(" = ", 1)[0].strip()
    return None
