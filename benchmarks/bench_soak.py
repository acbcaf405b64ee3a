"""9. Memory stays flat: server and Manager RSS over a soak at 1,000 mutations/s (opt-in).

``make bench ARGS=--soak``: 10 minutes (1 minute with --quick) of 8 workers writing the
dict at 1,000/s in all, with one client connected. RSS is sampled every 5 s; growth is
the last sample over the first one after the warm-up (the first minute, or 10 s quick).
The journal (50,000 entries) and each client's send queue (held back past 256 packets)
are bounded by construction; a flat RSS is the evidence that nothing else grows.
"""

from __future__ import annotations

import time

from .harness import Client, at_most, rss

WORKERS, RATE = 8, 1000


def run(bench) -> list[dict]:
    server = bench.server()
    client = Client(server.url, replica=False)
    duration, warmup = bench.q(600.0, 60.0), bench.q(60.0, 10.0)
    per = RATE / WORKERS
    server.spawn(WORKERS, "burst", n=int(per * (duration + 5)), rate=per, keys=100, target="dict")
    samples = []
    t0 = time.time()
    try:
        while (now := time.time()) - t0 < duration:
            samples.append((now - t0, rss(server.pid), rss(server.manager_pid)))
            time.sleep(5.0)
    finally:
        client.close()
        server.reset()
    after = [s for s in samples if s[0] >= warmup]
    rows = []
    bench.data["soak"] = samples
    for i, name in ((1, "server"), (2, "Manager")):
        start, end = after[0][i], after[-1][i]
        peak = max(s[i] for s in after)
        rows.append(
            at_most(
                f"soak.{name.lower()}_rss",
                f"{name} RSS after a {duration / 60:.0f}-minute soak at 1,000/s vs after warm-up",
                end / 2**20,
                start / 2**20,
                "MiB",
                1.1,
                baseline_name=f"RSS at {warmup:.0f} s",
                note=f"peak {peak / 2**20:.1f} MiB",
            )
        )
    return rows
