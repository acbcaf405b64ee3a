"""6. Killing: a kill request until the client sees the worker as killed.

mpscope: DELETE /api/workers/PID (SIGTERM) for a sleeping worker, timed until a websocket
client receives its ``killed`` state. Baseline, side by side: this process terminates a
sleeping process it started itself and waits for it (``terminate(); join()``).
"""

from __future__ import annotations

import multiprocessing
import time

from .harness import Client, figure, median


def run(bench) -> list[dict]:
    server = bench.server()
    client = Client(server.url)
    ctx = multiprocessing.get_context("forkserver")
    count = bench.q(20, 6)
    ours, bare = [], []
    try:
        pids = server.spawn_pids(count, "sleep", seconds=600.0)
        client.wait(lambda: all((p, "running") in client.seen_at for p in pids), 60, "workers running")
        procs = [ctx.Process(target=time.sleep, args=(600,), daemon=True) for _ in range(count)]
        for p in procs:
            p.start()
        for pid, proc in zip(pids, procs, strict=True):
            t0 = time.time()
            proc.terminate()
            proc.join()
            bare.append(time.time() - t0)
            t0 = time.time()
            server.call("DELETE", f"/api/workers/{pid}")
            client.wait(lambda pid=pid: (pid, "killed") in client.seen_at, 30, f"{pid} killed")
            ours.append(client.seen_at[(pid, "killed")] - t0)
    finally:
        client.close()
    p50, base = median(ours) * 1000, median(bare) * 1000
    bench.log(f"mpscope p50 {p50:.1f} ms (max {max(ours) * 1000:.1f}), bare {base:.1f} ms")
    return [
        figure(
            "kill.p50",
            "kill request → the client sees the worker killed (p50)",
            p50,
            base,
            "ms",
            baseline_name="bare terminate() + join() of our own process",
            target="≤ 50 ms",
            met=p50 <= 50,
            note=f"{count} kills, max {max(ours) * 1000:.0f} ms",
        )
    ]
