"""4. Against the naive way: mpscope vs a server that polls and sends full snapshots.

The baseline is benchmarks/polling_server.py, started afresh for each of its phases (so
that its polling does not load the machine during mpscope's phases), and only one
client is connected at a time (the clients share this process). At 100 and at
10,000 dict entries (and 100,000 in a full run, to show how each grows), each gets the
same load in alternating phases: 8 writers, 1,000 dict writes/s in all, 12 keys each (so
96 keys change). The same client code measures both. mpscope's latency runs from each
op's ``t`` to its arrival. The baseline's runs from the moment each write returned in the
writer (a plain Manager records no time; a write is applied slightly before it returns,
which favours the baseline) to the arrival of the first full snapshot that shows that
write or a later one to the same key. CPU per mutation is the server process's CPU time
(and, separately, its Manager's) over the steady middle of the phase divided by the
mutations applied meanwhile.
"""

from __future__ import annotations

import bisect
import collections
import os
import shutil
import tempfile
import time
from array import array

from . import bench_latency
from .harness import Client, Server, figure, summary_ms, wait_for

WORKERS, RATE, KEYS = 8, 1000, 12


class SnapshotLog:
    """Per worker key, the (arrival, value) of each full snapshot the baseline sent."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)

    def on_event(self, name: str, data: dict, arrival: float) -> None:
        if name == "state":
            for key, value in data["dict"].items():
                if not key.startswith("fill:"):
                    self.seen[key].append((arrival, value))

    def latencies(self, stamps: dict[int, array], keys: int, window: tuple[float, float]) -> list[float]:
        """For each write: first arrival showing it (or a later value) minus its stamp."""
        out = []
        for pid, times in stamps.items():
            for k in range(keys):
                seen = self.seen.get(f"{pid}:{k}", [])
                values = [v for _, v in seen]
                for i in range(k, len(times), keys):
                    if not window[0] <= times[i] <= window[1]:
                        continue
                    j = bisect.bisect_left(values, i)
                    if j == len(values):
                        raise AssertionError(f"write {pid}:{k}={i} never reached the client")
                    out.append(seen[j][0] - times[i])
        return out


def baseline_phase(server: Server, log: SnapshotLog, seconds: float) -> dict:
    path = tempfile.mkdtemp(prefix="bench-stamps-")
    try:
        n = int(RATE / WORKERS * seconds)
        server.call(
            "POST", "/spawn", {"count": WORKERS, "n": n, "rate": RATE / WORKERS, "keys": KEYS, "path": path}
        )
        wait_for(lambda: log.seen, 30, "the first write to show")
        time.sleep(seconds * 0.2)  # CPU is read in the steady middle, as for mpscope
        ta, cpu0 = time.time(), server.cpu()
        time.sleep(seconds * 0.6)
        tb, cpu1 = time.time(), server.cpu()
        server.call("POST", "/join")
        stamps = {}
        for name in os.listdir(path):
            with open(os.path.join(path, name), "rb") as f:
                stamps[int(name.split(".")[0])] = array("d", f.read())

        def shown_last_writes() -> bool:
            return all(
                (seen := log.seen.get(f"{pid}:{k}")) and seen[-1][1] == n - 1 - (n - 1 - k) % KEYS
                for pid in stamps
                for k in range(KEYS)
            )

        wait_for(shown_last_writes, 60, "a snapshot with the last writes", 0.05)
        every = sorted(t for times in stamps.values() for t in times)
        window = (every[len(every) // 20], every[-len(every) // 20 - 1])
        lat = log.latencies(stamps, KEYS, window)
        total = max(1, bisect.bisect(every, tb) - bisect.bisect(every, ta))
        return {
            **summary_ms(lat),
            "server_us": (cpu1[0] - cpu0[0]) / total * 1e6,
            "manager_us": (cpu1[1] - cpu0[1]) / total * 1e6,
        }
    finally:
        shutil.rmtree(path, ignore_errors=True)


def polling_phase(size: int, seconds: float) -> dict:
    """One baseline phase on a fresh baseline server, so it polls only during its own phases."""
    base = Server("benchmarks.polling_server", name="polling")
    log = SnapshotLog()
    try:
        base.call("POST", "/fill", {"entries": size - WORKERS * KEYS})
        client = Client(base.url, on_event=log.on_event, replica=False)
        try:
            return baseline_phase(base, log, seconds)
        finally:
            client.close()
    finally:
        base.stop()


def run(bench) -> list[dict]:
    ours = bench.server()
    client = Client(ours.url)
    seconds, repeats = bench.q(5.0, 1.0), bench.q(3, 1)
    rows, plot = [], {}
    try:
        for size in bench.q((100, 10_000, 100_000), (10_000,)):
            results: dict[str, list[dict]] = {"mpscope": [], "polling": []}
            for rep in range(repeats):
                for kind in ["mpscope", "polling"] if rep % 2 == 0 else ["polling", "mpscope"]:
                    if kind == "polling":
                        results[kind].append(polling_phase(size, seconds))
                        continue
                    if rep == 0 or size == 100:  # bigger states just gain 96 keys a phase
                        ours.reset()
                        ours.fill(entries=size - WORKERS * KEYS, writers=4)
                    results[kind].append(bench_latency.phase(ours, client, RATE, seconds, keys=KEYS))
            m = bench_latency.medians(results)
            plot[size] = m
            bench.log(f"{size:,} entries: {m}")
            # the Managers' CPU goes in the note
            for field, label, unit, ours_m, polled in bench_latency.sides(m, "mpscope", "polling", 3):
                win = polled / ours_m
                rows.append(
                    figure(
                        f"polling.{size}.{field}",
                        f"{label} at {size:,} entries, 1,000 mutations/s: mpscope vs polling baseline",
                        ours_m,
                        polled,
                        unit,
                        baseline_name="poll the Manager + full snapshot every 100 ms",
                        target=("≤ 30 µs" if field == "server_us" else "≥ 10× better")
                        if size == 10_000
                        else "report",
                        # CPU: an absolute bound (the baseline's cost is per poll, not per change)
                        met=(ours_m <= 30 if field == "server_us" else win >= 10) if size == 10_000 else None,
                        ratio=ours_m / polled,
                        note=(f"mpscope {win:.1f}× better" if win >= 1 else f"mpscope {1 / win:.1f}× worse")
                        + "; Manager CPU/mutation: mpscope "
                        f"{m['mpscope']['manager_us']:.0f} µs, baseline {m['polling']['manager_us']:.0f} µs",
                    )
                )
        bench.data["polling"] = plot
    finally:
        client.close()
    return rows
