"""5. Spawning: one request for 50 workers until all 50 PIDs reach a client, vs bare multiprocessing.

mpscope: one POST /api/workers for 50 ``append_pid`` workers, timed until a websocket
client's copy of the shared list (built from ``changes``) holds all 50 PIDs; the time
until its worker table lists them is reported too. Baseline, side by side: this process
runs a lean parent (``python -m benchmarks.bare_spawn``: no web stack imported) that starts 50
processes from a forkserver context (warmed up, as mpscope's is), each appending its PID
to a plain Manager list, timed until the list holds all 50.
"""

from __future__ import annotations

import subprocess
import sys
import time

from .harness import REPO, Client, at_most, median

COUNT = 50


def ours(server, client: Client) -> tuple[float, float]:
    """Seconds until the client's shared list, and its worker table, hold all 50 PIDs."""
    t0 = time.time()
    pids = set(server.spawn_pids(COUNT, "append_pid", interval=3600.0))
    client.wait(lambda: pids <= set(client.replica.list), 60, "50 PIDs in the list")
    t_list = time.time() - t0
    with client.cond:  # a worker's first appearance may already say "running"
        first = {}
        for (pid, _), at in client.seen_at.items():
            first[pid] = min(at, first.get(pid, at))
        t_table = max(first[pid] for pid in pids) - t0
    server.reset()
    return t_list, t_table


def bare(parent: subprocess.Popen) -> float:
    parent.stdin.write(f"spawn {COUNT}\n")
    parent.stdin.flush()
    return float(parent.stdout.readline())


def run(bench) -> list[dict]:
    server = bench.server()
    client = Client(server.url)
    parent = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bare_spawn"],
        cwd=REPO,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    times: dict[str, list] = {"mpscope": [], "table": [], "bare": []}
    try:
        client.wait(lambda: client.replica.version >= 0, what="the first snapshot")
        assert parent.stdout.readline().strip() == "ready"
        for rep in range(bench.q(3, 1)):
            for kind in ["bare", "mpscope"] if rep % 2 == 0 else ["mpscope", "bare"]:
                if kind == "bare":
                    times["bare"].append(bare(parent))
                else:
                    t_list, t_table = ours(server, client)
                    times["mpscope"].append(t_list)
                    times["table"].append(t_table)
    finally:
        client.close()
        parent.stdin.close()
        parent.wait(30)
    m = {k: median(v) * 1000 for k, v in times.items()}
    bench.log(f"{m}")
    return [
        at_most(
            "spawn.50",
            "spawn 50 workers: request → all 50 PIDs in the client's shared list",
            m["mpscope"],
            m["bare"],
            "ms",
            1.5,
            baseline_name="bare forkserver: 50 processes append their PID to a plain Manager list",
            note=f"all 50 listed in the client's worker table after {m['table']:.0f} ms",
        )
    ]
