"""2. Push latency: from the op's ``t`` (the Manager applied it) to its arrival at a client.

8 ``burst`` workers write the dict at a fixed total rate; one websocket client stamps each
``changes`` frame as it arrives. First the target point (1,000 mutations/s), then a sweep
of rates to find the highest sustained rate whose p99 stays within 100 ms. After each
phase the load stops and three copies of the state must be equal: the client's (built
only from snapshot + changes), the server's mirror (/api/state) and the Manager's own
contents (/api/state?source=manager). Nothing may be lost at any rate.
"""

from __future__ import annotations

import bisect
import random
import time

from .harness import Client, figure, median, summary_ms

WORKERS = 8

# What a phase measures, as figures show it: (its field, what it is, its unit).
MEASURES = (
    ("p50", "push latency p50", "ms"),
    ("p99", "push latency p99", "ms"),
    ("server_us", "server CPU per mutation", "µs"),
    ("manager_us", "Manager CPU per mutation", "µs"),
)


def sides(m: dict[str, dict[str, float]], ours: str, baseline: str, measures: int = len(MEASURES)) -> list:
    """``(field, what it is, unit, ours, baseline)`` for the first ``measures`` of MEASURES, from
    :func:`medians` of two sides."""
    return [(f, label, unit, m[ours][f], m[baseline][f]) for f, label, unit in MEASURES[:measures]]


def medians(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Each side's phases (as :func:`phase` returns them) as the median of each of MEASURES."""
    return {
        side: {f: median([r[f] for r in phases]) for f, _, _ in MEASURES} for side, phases in results.items()
    }


def phase(server, client: Client, rate: float, seconds: float, keys: int = 100) -> dict:
    """Drive ``rate`` mutations/s (0 = flat out) for ``seconds``; return what the client saw.

    Also returns the server's and the Manager's CPU time per mutation (µs) over the phase.
    """
    client.clear()
    per_worker = rate / WORKERS
    n = int(per_worker * seconds) if rate else int(30_000 * seconds / WORKERS)
    server.spawn(WORKERS, "burst", n=n, rate=per_worker, keys=keys, target="dict")
    # CPU is read in the steady middle of the phase (not spawning or reaping workers), with
    # no REST polling meanwhile, and divided by the mutations the Manager applied in between.
    client.wait(lambda: len(client.op_t) > 0, 30, "the first change")
    time.sleep(seconds * 0.2)
    ta, cpu0 = time.time(), server.cpu()
    time.sleep(seconds * 0.6)
    tb, cpu1 = time.time(), server.cpu()
    server.wait_idle()
    manager = server.state("manager")
    client.wait(lambda: client.replica.version >= manager["version"], 60, "the client to catch up")
    mirror = server.state()
    with client.cond:
        lost = not (client.replica.matches(mirror) and client.replica.matches(manager))
        times = sorted(client.op_t)
    server.call("DELETE", "/api/workers", state="ended")
    # leave out the first and last 5% (workers starting and stopping at slightly different times)
    t0, t1 = times[len(times) // 20], times[-len(times) // 20 - 1]
    lat = client.latencies(t0, t1)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    applied = max(1, bisect.bisect(times, tb) - bisect.bisect(times, ta))
    cpu = {
        "server_us": (cpu1[0] - cpu0[0]) / applied * 1e6,
        "manager_us": (cpu1[1] - cpu0[1]) / applied * 1e6,
    }
    return {
        "rate": rate,
        "achieved": achieved,
        "ops": len(times),
        "lost": lost,
        **cpu,
        **summary_ms(lat),
        "lat": lat,
    }


def run(bench) -> list[dict]:
    server = bench.server()
    client = Client(server.url)
    client.wait(lambda: client.replica.version >= 0, what="the first snapshot")
    rows = []
    try:
        seconds = bench.q(6.0, 1.5)
        target = [phase(server, client, 1000, seconds) for _ in range(bench.q(3, 1))]
        p50 = sorted(r["p50"] for r in target)[len(target) // 2]
        p99 = sorted(r["p99"] for r in target)[len(target) // 2]
        bench.log(f"1,000/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(target)} phase(s)")
        rows.append(
            figure(
                "latency.1k.p50",
                "push latency p50 at 1,000 mutations/s, 8 workers",
                p50,
                None,
                "ms",
                target="≤ 5 ms",
                met=p50 <= 5,
            )
        )
        rows.append(
            figure(
                "latency.1k.p99",
                "push latency p99 at 1,000 mutations/s, 8 workers",
                p99,
                None,
                "ms",
                target="≤ 30 ms",
                met=p99 <= 30,
            )
        )

        sweep = []
        for rate in bench.q([500, 1000, 2000, 5000, 10_000, 20_000, 0], [5000, 0]):
            result = phase(server, client, rate, bench.q(4.0, 1.0))
            bench.log(
                f"{'flat out' if not rate else f'{rate:,}/s'}: achieved {result['achieved']:,.0f}/s, "
                f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, lost: {result['lost']}"
            )
            sweep.append(result)
        ok = [r for r in sweep if r["p99"] <= 100]
        best = max((r["achieved"] for r in ok), default=0.0)
        rows.append(
            figure(
                "latency.max_rate",
                "highest sustained rate with p99 ≤ 100 ms",
                best,
                None,
                "ops/s",
                target="report",
                note="achieved rate, all 8 workers together",
            )
        )
        lost = sum(r["lost"] for r in [*target, *sweep])
        rows.append(
            figure(
                "latency.lost",
                "phases where client ≠ /api/state ≠ Manager after the load",
                lost,
                None,
                "phases",
                target="0",
                met=lost == 0,
                note=f"{len(target) + len(sweep)} phases, rates up to flat out",
            )
        )
        rows.append(
            figure(
                "latency.resyncs",
                "snapshots the client needed after the first (gaps/overflow)",
                client.snapshots - 1 + client.gaps,
                None,
                "",
                target="report",
            )
        )
        bench.data["latency_sweep"] = [
            {**{k: v for k, v in r.items() if k != "lat"}, "sample": _sample(r["lat"])} for r in sweep
        ]
    finally:
        client.close()
    return rows


def _sample(values: list[float], k: int = 2000) -> list[float]:
    """At most ``k`` latencies (ms), for the distribution plot."""
    chosen = values if len(values) <= k else random.Random(0).sample(values, k)
    return [round(v * 1000, 3) for v in chosen]
