"""7. Fan-out: push latency with 50 clients vs 1, and with a client that does not read.

A probe client in this process measures push latency at 1,000 mutations/s in three
interleaved setups: alone; with 49 more clients (in a helper process, each also
measuring, on one frame in ten, since 49 Python clients in one process are slow
readers themselves); and alone with one client that connects and then never reads (a 4 KiB
receive buffer, so its TCP window closes quickly and the server must hold it back).
"""

from __future__ import annotations

import json
import subprocess
import sys

from . import bench_latency
from .harness import REPO, Client, figure, median, summary_ms


class MoreClients:
    """``count`` measuring clients in a helper process (``python -m benchmarks.bench_fanout``)."""

    def __init__(self, url: str, count: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_fanout", url, str(count)],
            cwd=REPO,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def finish(self) -> dict:
        """Stop them; return their latencies, all clients together, as p50/p99 (ms)."""
        out, _ = self.proc.communicate("stop\n", timeout=120)
        return json.loads(out)


def helper(url: str, count: int) -> None:
    # Python clients are costly: these decode one `changes` frame in 10 (the probe decodes all)
    clients = [Client(url, replica=False, parse_every=10) for _ in range(count)]
    print("ready", flush=True)
    sys.stdin.readline()
    lat = [v for c in clients for v in c.latencies()]
    for c in clients:
        c.close()
    print(json.dumps(summary_ms(lat)))


def run(bench) -> list[dict]:
    server = bench.server()
    probe = Client(server.url)
    seconds, repeats, many = bench.q(5.0, 1.5), bench.q(3, 1), 50
    results: dict[str, list[dict]] = {"one": [], "many": [], "slow": [], "others": []}
    try:
        probe.wait(lambda: probe.replica.version >= 0, what="the first snapshot")
        for _ in range(repeats):
            results["one"].append(bench_latency.phase(server, probe, 1000, seconds))
            more = MoreClients(server.url, many - 1)
            try:
                results["many"].append(bench_latency.phase(server, probe, 1000, seconds))
            finally:
                results["others"].append(more.finish())
            slow = Client(server.url, rcvbuf=4096, read=False)
            try:
                results["slow"].append(bench_latency.phase(server, probe, 1000, seconds))
            finally:
                slow.close()
    finally:
        probe.close()
    m = {k: {f: median([r[f] for r in v]) for f in ("p50", "p99")} for k, v in results.items()}
    held_back = "is not reading" in server.log_path.read_text()
    bench.log(f"{m}; slow client held back: {held_back}")
    bench.data["fanout"] = m
    return [
        figure(
            "fanout.50.p99",
            f"push latency p99 with {many} clients vs 1 (probe client)",
            m["many"]["p99"],
            m["one"]["p99"],
            "ms",
            baseline_name="one client",
            target="≤ 2×",
            met=m["many"]["p99"] / m["one"]["p99"] <= 2,
            note=f"the other {many - 1} clients together: p50 {m['others']['p50']:.1f} ms, "
            f"p99 {m['others']['p99']:.1f} ms",
        ),
        figure(
            "fanout.slow.p99",
            "push latency p99 with a client that never reads vs without",
            m["slow"]["p99"],
            m["one"]["p99"],
            "ms",
            baseline_name="one client",
            target="≈ 1× (≤ 1.5× for noise)",
            met=m["slow"]["p99"] / m["one"]["p99"] <= 1.5,
            note=f"p50 {m['slow']['p50']:.1f} vs {m['one']['p50']:.1f} ms; "
            f"server held the slow client back: {'yes' if held_back else 'no'}",
        ),
    ]


if __name__ == "__main__":
    helper(sys.argv[1], int(sys.argv[2]))
