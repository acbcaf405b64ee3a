"""11. Readers do not slow the live push: 100,000 dict entries polled while they change.

One mpscope server holds 100,000 dict entries (20,000 in a quick run); 8 ``burst`` workers
write 1,000 changes/s into that same dict in every phase, and a live client measures push
latency. Phases alternate, in pairs, each repeat in the other order:

* ``quiet``: no readers (the baseline);
* ``loaded``: meanwhile a REST client GETs /api/state 5 times a second and 10 clients
  connect, take their snapshot and go, every second;
* ``polled``: the REST poller only, to price one GET while the dict changes: the server
  CPU per second over the phase's steady middle, minus the quiet phase's of the same pair,
  divided by the GETs per second.

Targets: loaded p50 ÷ quiet p50 and loaded p99 ÷ quiet p99 ≤ 1.5 (medians over the pairs),
server CPU per GET ≤ 5 ms; the poller's wall time per GET (client side) is reported beside
it, and so is ``GET /api/state?fields=version``'s (5 a second, while the dict changes).
Last, with no writes, the server CPU of one ``GET /api/state`` (over 50 GETs).
"""

from __future__ import annotations

import multiprocessing
import threading
import time

import psutil
import requests
import websocket

from . import bench_latency
from .harness import Client, Server, at_most, figure, median, percentile

KEYS = 12
MAX_TIMES = 4096


class Readers:
    """Load the server with readers until stopped: a poller and a stream of reconnecting clients.

    They run in a process of their own: reading megabytes of snapshots in this one would
    starve the measuring client's reader thread of the GIL and inflate the latencies it
    stamps, which would measure this process rather than the server. The poller's wall
    time per GET is kept (``wall_ms``).
    """

    def __init__(self, url: str, polls_per_s: float = 5, reconnects_per_s: int = 10, query: str = "") -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.counts = ctx.Array("i", 2)
        self.times = ctx.Array("d", MAX_TIMES)
        self.process = ctx.Process(
            target=_read_until_stopped,
            args=(
                f"{url}/api/state{query}",
                polls_per_s,
                reconnects_per_s,
                self.stop,
                self.counts,
                self.times,
            ),
        )
        self.process.start()

    @property
    def polls(self) -> int:
        return self.counts[0]

    @property
    def joins(self) -> int:
        return self.counts[1]

    def wall_ms(self) -> list[float]:
        return [t * 1000 for t in self.times[: min(self.polls, MAX_TIMES)]]

    def close(self) -> None:
        self.stop.set()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _read_until_stopped(url: str, polls_per_s: float, reconnects_per_s: int, stop, counts, times) -> None:
    readers = _ReaderThreads(url, stop, counts, times)
    threads = [
        threading.Thread(target=readers.poll, args=(1 / polls_per_s,), daemon=True),
        *(threading.Thread(target=readers.join, daemon=True) for _ in range(reconnects_per_s)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class _ReaderThreads:
    def __init__(self, url: str, stop, counts, times) -> None:
        self.url, self.stop, self.counts, self.times = url, stop, counts, times

    def poll(self, every: float) -> None:
        with requests.Session() as session:
            while not self.stop.wait(every):
                started = time.perf_counter()
                session.get(self.url, timeout=30).content  # noqa: B018 -- read it all
                took = time.perf_counter() - started
                with self.counts.get_lock():
                    if self.counts[0] < MAX_TIMES:
                        self.times[self.counts[0]] = took
                    self.counts[0] += 1

    def join(self) -> None:
        base = self.url.split("/api/")[0]
        ws_url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        while not self.stop.is_set():
            started = time.monotonic()
            ws = websocket.create_connection(ws_url, timeout=30, skip_utf8_validation=True)
            try:
                ws.recv()
                ws.send("40")
                while not ws.recv().startswith('42["snapshot"'):
                    pass
                with self.counts.get_lock():
                    self.counts[1] += 1
            finally:
                ws.close()
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def process_cpu(pid: int) -> float:
    # psutil's process times keep the CPU of request threads that have ended (schedstat
    # per live thread does not); over 50 requests their 10 ms ticks are fine enough
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def get_state_cpu_ms(server: Server, count: int = 50) -> float:
    """Server CPU per GET /api/state, with nothing else going on."""
    with requests.Session() as session:
        session.get(f"{server.url}/api/state", timeout=30)  # the first builds the texts once
        before = process_cpu(server.pid)
        for _ in range(count):
            session.get(f"{server.url}/api/state", timeout=30).content  # noqa: B018
        return (process_cpu(server.pid) - before) / count * 1000


def _phase(server: Server, client: Client, seconds: float, readers: Readers | None) -> dict:
    """One phase at 1,000 writes/s; with ``readers`` reading meanwhile (closed after it)."""
    try:
        polls, cpu = (readers.polls if readers else 0), process_cpu(server.pid)
        result = bench_latency.phase(server, client, 1000, seconds, KEYS)
        # the server's CPU over the whole phase (psutil's: threads that ended included), and
        # the GETs answered meanwhile
        result["server_cpu_ms"] = (process_cpu(server.pid) - cpu) * 1000
        result["phase_polls"] = (readers.polls if readers else 0) - polls
    finally:
        if readers is not None:
            readers.close()
    result.pop("lat")
    if readers is not None:
        result.update(polls=readers.polls, joins=readers.joins, wall_ms=readers.wall_ms())
    return result


def run(bench) -> list[dict]:
    size = bench.q(100_000, 20_000)
    server = Server("webapp", "--max-workers", "64", "--rate-limit", "0", name="mpscope-readers")
    rows = []
    try:
        server.fill(entries=size, writers=4)
        client = Client(server.url)
        client.wait(lambda: client.replica.version >= 0, what="the first snapshot")
        seconds, repeats = bench.q(5.0, 1.5), bench.q(3, 1)
        kinds = ["quiet", "loaded", "polled"]
        results: dict[str, list[dict]] = {k: [] for k in kinds}
        for rep in range(repeats):
            for kind in kinds if rep % 2 == 0 else kinds[::-1]:
                readers = None
                if kind == "loaded":
                    readers = Readers(server.url)
                elif kind == "polled":
                    readers = Readers(server.url, reconnects_per_s=0)
                results[kind].append(_phase(server, client, seconds, readers))
        # fields=version, polled while the dict changes (it needs none of the big objects)
        version = _phase(server, client, bench.q(3.0, 1.5), Readers(server.url, 5, 0, "?fields=version"))
        client.close()

        p50 = {k: median([r["p50"] for r in v]) for k, v in results.items()}
        p99 = {k: median([r["p99"] for r in v]) for k, v in results.items()}
        # per pair: the server's CPU over the polled phase minus the quiet one's (the same
        # writes, the same length), per GET of the polled phase
        per_get = [
            (polled["server_cpu_ms"] - quiet["server_cpu_ms"]) / polled["phase_polls"]
            for quiet, polled in zip(results["quiet"], results["polled"], strict=True)
            if polled["phase_polls"]
        ]
        get_cpu = median(per_get)
        walls = [w for r in results["polled"] for w in r["wall_ms"]]
        loaded_walls = [w for r in results["loaded"] for w in r["wall_ms"]]
        version_walls = version["wall_ms"]
        idle_ms = get_state_cpu_ms(server)
        joins = sum(r["joins"] for r in results["loaded"])
        polls = sum(r["polls"] for r in results["loaded"])
        bench.log(
            f"p50 {p50}, p99 {p99}; GET while changing: CPU {get_cpu:.2f} ms (pairs {per_get}), "
            f"wall p50 {median(walls):.1f} max {max(walls, default=0):.1f} ms; loaded GET wall p50 "
            f"{median(loaded_walls):.1f} max {max(loaded_walls, default=0):.1f} ms; fields=version "
            f"p50 {median(version_walls):.1f} ms; idle GET CPU {idle_ms:.2f} ms; "
            f"{polls} polls and {joins} joins while loaded"
        )
        bench.data["readers"] = {
            "entries": size,
            "p50": p50,
            "p99": p99,
            "server_cpu_ms": {k: [r["server_cpu_ms"] for r in v] for k, v in results.items()},
            "get_cpu_ms": per_get,
            "get_wall_ms": {"polled": walls, "loaded": loaded_walls, "fields_version": version_walls},
            "readers": {"polls": polls, "joins": joins},
            "get_state_ms": idle_ms,
        }
        what = (
            f"with {size:,} entries and 1,000 writes/s into that dict, while a poller GETs "
            "/api/state 5×/s and 10 clients reconnect each second"
        )
        note = f"{repeats} alternating pairs, medians; {polls} GETs and {joins} snapshots to joining clients"
        for name, values in (("p50", p50), ("p99", p99)):
            rows.append(
                at_most(
                    f"readers.{name}",
                    f"push latency {name} {what}",
                    values["loaded"],
                    values["quiet"],
                    "ms",
                    1.5,
                    baseline_name="the same writes with no readers",
                    note=note,
                )
            )
        rows.append(
            figure(
                "readers.get_cpu",
                f"server CPU per GET /api/state at {size:,} entries while 1,000 writes/s change them",
                get_cpu,
                None,
                "ms",
                target="≤ 5 ms",
                met=get_cpu <= 5,
                note=(
                    f"CPU of the polled phase minus the quiet one, per GET; wall time per GET "
                    f"(client side) p50 {median(walls):.1f} ms, max {max(walls, default=0):.1f} ms; "
                    f"with the 10 joining clients too p50 {median(loaded_walls):.1f} ms, "
                    f"max {max(loaded_walls, default=0):.1f} ms"
                ),
            )
        )
        rows.append(
            figure(
                "readers.fields_version",
                "wall time of GET /api/state?fields=version (client side) while the dict changes",
                median(version_walls),
                None,
                "ms",
                target="report",
                note=f"p99 {percentile(version_walls, 99):.1f} ms over {len(version_walls)} GETs",
            )
        )
        rows.append(
            figure(
                "readers.get_state",
                f"server CPU per GET /api/state at {size:,} dict entries, nothing changing",
                idle_ms,
                None,
                "ms",
                target="≤ 5 ms",
                met=idle_ms <= 5,
            )
        )
    finally:
        server.stop()
    return rows
