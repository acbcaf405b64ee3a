"""Memory a shared dict costs the dashboard: bytes per entry at 1,000,000 entries (issue 21).

A program under ``mpscope run`` (``programs/big_dict.py``) makes a Manager dict, and once
the dashboard is settled its RSS is read; then the program fills the dict with 1,000,000
small entries (int keys and values; 100,000 in a quick run), 10,000 per ``update``, and
once the dashboard holds all of them and its RSS is steady it is read again, and once more
after one ``GET /api/state`` (the snapshot a page joining gets, kept for the next reader).
Bytes per entry is the growth over the entries (target < 200: the dashboard's copy, its
JSON pieces and what the allocator keeps of the replay's passing objects).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from testkit.server import Server
from testkit.waiting import wait_for

from .harness import REPO, figure, rss

BATCH = 10_000


def steady_rss(pid: int, timeout: float = 120.0) -> int:
    """The RSS once two readings a second apart differ by less than 1 MiB."""
    last = rss(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)  # a reading per second: the replay settles over seconds
        now = rss(pid)
        if abs(now - last) < 2**20:
            return now
        last = now
    return last


def run(bench) -> list[dict]:
    entries = bench.q(1_000_000, 100_000)
    with tempfile.TemporaryDirectory(prefix="mpscope-entry-bytes-") as tmp:
        go = Path(tmp) / "go"
        program = str(REPO / "benchmarks" / "programs" / "big_dict.py")
        srv = Server(Path(tmp), program, str(entries), str(BATCH), str(go), subcommand=("run",), rate_limit=0)
        try:

            def the_dict() -> str | None:
                objects = srv.session.get(f"{srv.url}/api/state?fields=objects", timeout=30).json()["objects"]
                return next((oid for oid, obj in objects.items() if obj["kind"] == "dict"), None)

            oid = wait_for(the_dict, 60, "the program's dict")
            before = steady_rss(srv.pid)
            go.touch()

            def total() -> int:
                page = srv.session.get(f"{srv.url}/api/objects/{oid}?offset=0&limit=1", timeout=30).json()
                return page["total"]

            held = f"the dashboard to hold {entries:,} entries"
            wait_for(lambda: total() == entries, 600, held, interval=1.0)
            after = steady_rss(srv.pid)
            body = srv.session.get(f"{srv.url}/api/state", timeout=120).content
            after_get = steady_rss(srv.pid)
            go.unlink()
        finally:
            srv.stop(check=False)
    per, per_get = (after - before) / entries, (after_get - before) / entries
    bench.log(
        f"{entries:,} entries: RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MiB ({per:.0f} B/entry), "
        f"{after_get / 2**20:.0f} MiB after a {len(body) / 2**20:.1f} MiB GET /api/state "
        f"({per_get:.0f} B/entry)"
    )
    bench.data["entry_bytes"] = {"entries": entries, "before": before, "after": after, "after_get": after_get}
    # the target is per entry at a million: at 100,000 (a quick run) the fixed costs weigh in
    # (the last 50,000 changes kept for joining clients, ~20 MB: 200 B an entry there)
    judged = entries >= 1_000_000
    note = "" if judged else "quick run: fixed costs (the change history) dominate; judged at 1,000,000"
    return [
        figure(fid, what, value, None, "B", target="< 200 B", met=value < 200 if judged else None, note=note)
        for fid, what, value in (
            (
                "state_size.bytes_per_entry",
                f"dashboard memory per dict entry at {entries:,} entries (int keys and values)",
                per,
            ),
            (
                "state_size.bytes_per_entry_read",
                f"the same after one GET /api/state of all {entries:,}",
                per_get,
            ),
        )
    ]
