"""Run the benchmarks: ``python -m benchmarks [--quick] [--soak] [--only NAME,...]``.

``make bench`` runs the full suite (under 10 minutes), prints a table and writes
``benchmarks/results/latest.json`` and ``docs/performance.md`` with its plots.
``make bench-quick`` runs every family at a small scale (under a minute) and writes
``benchmarks/results/quick.json`` only. ``--soak`` adds the 10-minute memory soak.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime

from . import harness, report

FAMILIES = [
    "throughput",  # 1. recording Manager vs plain Manager
    "latency",  # 2. push latency, rate sweep, nothing lost
    "state_size",  # 3. cost vs state size
    "polling",  # 4. against the naive polling server
    "spawn",  # 5. spawning 50 workers
    "kill",  # 6. kill latency
    "fanout",  # 7. 50 clients, a slow reader
    "browser",  # 8. the page keeps up
    "cpu",  # 10. idle server, CPU per mutation
    "output",  # printer vs writing to a file
    "run",  # mpscope run: a CPU-bound Pool.map vs plain python
    "readers",  # 11. pollers and reconnecting clients at 100,000 entries
    "soak",  # 9. memory over 10 minutes (opt-in: --soak)
]


class Bench:
    """What every family gets: the scale, a shared mpscope server and a place for plot data."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.data: dict[str, object] = {}
        self._server: harness.Server | None = None

    def q(self, full, quick):
        """``full`` in a full run, ``quick`` in a quick one."""
        return quick if self.quick else full

    def server(self) -> harness.Server:
        """The shared mpscope server, reset to no workers and an empty state."""
        if self._server is None:
            self._server = harness.Server("webapp", "--max-workers", "64", "--rate-limit", "0")
        else:
            self._server.reset()
        return self._server

    def log(self, message: str) -> None:
        print(f"  {message}", flush=True)


def machine() -> dict:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scale, under a minute")
    parser.add_argument("--soak", action="store_true", help="add the 10-minute memory soak")
    parser.add_argument("--only", help="comma-separated families: " + ", ".join(FAMILIES))
    parser.add_argument("--no-page", action="store_true", help="do not write docs/performance.md")
    parser.add_argument(
        "--page-only", action="store_true", help="rewrite docs/performance.md from results/latest.json"
    )
    args = parser.parse_args(argv)
    if args.page_only:
        saved = json.loads((report.RESULTS / "latest.json").read_text())
        print(f"wrote {report.write_page(saved['machine'], saved['figures'], saved['data'])}")
        return 0
    names = args.only.split(",") if args.only else [f for f in FAMILIES if f != "soak" or args.soak]
    for name in names:
        if name not in FAMILIES:
            parser.error(f"unknown family {name!r}")

    bench = Bench(args.quick)
    meta = machine()
    meta["mode"] = "quick" if args.quick else "full"
    rows: list[dict] = []
    failed: list[str] = []
    timings: dict[str, float] = {}
    started = time.monotonic()
    try:
        for name in names:
            print(f"[{name}]", flush=True)
            t0 = time.monotonic()
            try:
                module = importlib.import_module(f"benchmarks.bench_{name}")
                rows += module.run(bench)
            except Exception:
                traceback.print_exc()
                failed.append(name)
            timings[name] = round(time.monotonic() - t0, 1)
            bench.log(f"({timings[name]} s)")
    finally:
        leftovers = harness.stop_all()
    elapsed = meta["seconds"] = round(time.monotonic() - started, 1)
    meta["failed"] = failed
    meta["leftover_processes"] = leftovers
    meta["families"] = timings
    report.print_table(rows)
    name = "quick.json" if args.quick else "latest.json"
    out = report.RESULTS / name
    partial = bool(args.only)
    if partial and out.exists():  # a partial run updates only its families' figures
        old = json.loads(out.read_text())
        keep = [r for r in old["figures"] if r["id"].split(".")[0] not in names]
        rows = sorted(keep + rows, key=lambda r: FAMILIES.index(r["id"].split(".")[0]))
        bench.data = {**old.get("data", {}), **bench.data}
        merged = f"{', '.join(names)} re-measured at {meta['date']} into the run of {old['machine']['date']}"
        meta = {**old["machine"], "families": {**old["machine"].get("families", {}), **timings}}
        # every partial run since the full one says so, not only the last
        meta["merged"] = "; ".join(filter(None, (old["machine"].get("merged"), merged)))
    report.write_json(out, meta, rows, bench.data)
    print(f"wrote {out.relative_to(harness.REPO)}; this run took {elapsed} s", flush=True)
    if not args.quick and not args.no_page:
        page = report.write_page(meta, rows, bench.data)
        print(f"wrote {page.relative_to(harness.REPO)}", flush=True)
    if leftovers:
        print(f"processes left behind (killed): {leftovers}", file=sys.stderr)
    return 1 if failed or leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
