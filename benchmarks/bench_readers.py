"""11. Readers do not slow the live push: 100,000 dict entries, a REST poller, reconnecting clients.

One mpscope server holds 100,000 dict entries (20,000 in a quick run). A live client
measures push latency at 1,000 dict writes/s in alternating phases: quiet (no readers)
and loaded (meanwhile a REST client GETs /api/state 5 times a second, and 10 clients
connect, take their snapshot and go, every second). Target: loaded p50 ÷ quiet p50 ≤ 1.5.
Then, with no writes, the server CPU time one ``GET /api/state`` costs at that size
(target ≤ 20 ms): the server process's CPU over 50 GETs, divided by 50.
"""

from __future__ import annotations

import multiprocessing
import threading
import time

import psutil
import requests
import websocket

from . import bench_latency
from .harness import Client, Server, figure, median

KEYS = 12


class Readers:
    """Load the server with readers until stopped: a poller and a stream of reconnecting clients.

    They run in a process of their own: reading megabytes of snapshots in this one would
    starve the measuring client's reader thread of the GIL and inflate the latencies it
    stamps, which would measure this process rather than the server.
    """

    def __init__(self, url: str, polls_per_s: float = 5, reconnects_per_s: int = 10) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.counts = ctx.Array("i", 2)
        self.process = ctx.Process(
            target=_read_until_stopped, args=(url, polls_per_s, reconnects_per_s, self.stop, self.counts)
        )
        self.process.start()

    @property
    def polls(self) -> int:
        return self.counts[0]

    @property
    def joins(self) -> int:
        return self.counts[1]

    def close(self) -> None:
        self.stop.set()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _read_until_stopped(url: str, polls_per_s: float, reconnects_per_s: int, stop, counts) -> None:
    readers = _ReaderThreads(url, stop, counts)
    threads = [
        threading.Thread(target=readers.poll, args=(1 / polls_per_s,), daemon=True),
        *(threading.Thread(target=readers.join, daemon=True) for _ in range(reconnects_per_s)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class _ReaderThreads:
    def __init__(self, url: str, stop, counts) -> None:
        self.url, self.stop, self.counts = url, stop, counts

    def poll(self, every: float) -> None:
        with requests.Session() as session:
            while not self.stop.wait(every):
                session.get(f"{self.url}/api/state", timeout=30).content  # noqa: B018 -- read it all
                with self.counts.get_lock():
                    self.counts[0] += 1

    def join(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
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


def run(bench) -> list[dict]:
    size = bench.q(100_000, 20_000)
    server = Server("webapp", "--max-workers", "64", "--rate-limit", "0", name="mpscope-readers")
    rows = []
    try:
        server.fill(entries=size, writers=4)
        client = Client(server.url)
        client.wait(lambda: client.replica.version >= 0, what="the first snapshot")
        seconds, repeats = bench.q(5.0, 1.5), bench.q(3, 1)
        results: dict[str, list[dict]] = {"quiet": [], "loaded": []}
        readers_done = {"polls": 0, "joins": 0}
        for rep in range(repeats):
            for kind in ["quiet", "loaded"] if rep % 2 == 0 else ["loaded", "quiet"]:
                readers = Readers(server.url) if kind == "loaded" else None
                try:
                    results[kind].append(bench_latency.phase(server, client, 1000, seconds, KEYS))
                finally:
                    if readers is not None:
                        readers.close()
                        readers_done["polls"] += readers.polls
                        readers_done["joins"] += readers.joins
        client.close()
        p50 = {k: median([r["p50"] for r in v]) for k, v in results.items()}
        state_ms = get_state_cpu_ms(server)
        bench.log(f"p50 {p50}, readers {readers_done}, GET /api/state {state_ms:.1f} ms CPU at {size:,}")
        bench.data["readers"] = {
            "entries": size,
            "p50": p50,
            "readers": readers_done,
            "get_state_ms": state_ms,
        }
        rows.append(
            figure(
                "readers.p50",
                f"push latency p50 with {size:,} entries while a poller GETs /api/state 5×/s "
                "and 10 clients reconnect each second",
                p50["loaded"],
                p50["quiet"],
                "ms",
                baseline_name="the same with no readers",
                target="≤ 1.5×",
                met=p50["loaded"] / p50["quiet"] <= 1.5,
            )
        )
        rows.append(
            figure(
                "readers.get_state",
                f"server CPU per GET /api/state at {size:,} dict entries",
                state_ms,
                None,
                "ms",
                target="≤ 20 ms",
                met=state_ms <= 20,
            )
        )
    finally:
        server.stop()
    return rows
