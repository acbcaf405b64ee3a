"""3. Cost does not grow with the state: 100,000 dict entries vs 100, side by side.

Two mpscope servers run at once, one holding ~100 dict entries and one 100,000 (20,000 in
a quick run). They take turns at the same load (8 workers, 1,000 dict writes/s in all)
and we compare push latency and CPU per mutation, big ÷ small. Then the memory a dict
entry costs, at 1,000,000 entries (``bench_entry_bytes``).
"""

from __future__ import annotations

from . import bench_entry_bytes, bench_latency
from .harness import Client, Server, at_most

WORKERS, KEYS = 8, 12


def run(bench) -> list[dict]:
    big_size = bench.q(100_000, 10_000)
    small = bench.server()
    big = Server("webapp", "--max-workers", "64", "--rate-limit", "0", name="mpscope-big")
    seconds, repeats = bench.q(5.0, 1.0), bench.q(3, 1)
    rows = []
    try:
        big.fill(entries=big_size, writers=4)
        clients = {"small": Client(small.url), "big": Client(big.url)}
        servers = {"small": small, "big": big}
        for c in clients.values():
            c.wait(lambda c=c: c.replica.version >= 0, what="the first snapshot")
        results: dict[str, list[dict]] = {"small": [], "big": []}
        for rep in range(repeats):
            for kind in ["small", "big"] if rep % 2 == 0 else ["big", "small"]:
                if kind == "small":
                    small.reset()  # back to ~100 entries: 4 + the 96 keys the workers write
                    small.fill(entries=4)
                results[kind].append(bench_latency.phase(servers[kind], clients[kind], 1000, seconds, KEYS))
        m = bench_latency.medians(results)
        bench.log(f"{m}")
        bench.data["state_size"] = {"entries": {"small": 100, "big": big_size}, **m}
        rows.extend(
            at_most(
                f"state_size.{field}",
                f"{label} with {big_size:,} dict entries vs 100",
                big_m,
                small_m,
                unit,
                1.3,
                baseline_name="the same with 100 entries",
            )
            for field, label, unit, big_m, small_m in bench_latency.sides(m, "big", "small")
        )
        for c in clients.values():
            c.close()
    finally:
        big.stop()
    return rows + bench_entry_bytes.run(bench)  # and what each entry costs in memory
