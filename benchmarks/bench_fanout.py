"""7. Fan-out: push latency with 50 clients vs 1, and with a client that does not read.

A probe client in this process measures push latency at 1,000 mutations/s in three
interleaved setups: alone; with 49 more clients; and alone with one client that connects
and then never reads (a 4 KiB receive buffer, so its TCP window closes quickly).

The 49 others live in a helper process and are as cheap as a client can be, so that the
2 shared cores measure the server's fan-out rather than 49 Python websocket parsers
(which, decoding every frame, fell seconds behind by themselves and starved the box):
raw sockets that complete the websocket and Socket.IO handshakes, then drain bytes with
one selector. Each drained chunk's first op ``t`` gives a sampled latency for them too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from . import bench_latency
from .harness import REPO, Client, at_most, median, summary_ms

FIRST_T = re.compile(rb'"t":\s*([0-9.]+)')


class MoreClients:
    """``count`` draining clients in a helper process (``python -m benchmarks.bench_fanout``)."""

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
        """Stop them; return their sampled latencies, all clients together, as p50/p99 (ms)."""
        out, _ = self.proc.communicate("stop\n", timeout=120)
        return json.loads(out)


def raw_client(host: str, port: int) -> socket.socket:
    """A websocket connected to the default Socket.IO namespace; nothing more."""
    sock = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer[:100]
    mask = os.urandom(4)  # a client's frames are masked: this one says "40" (connect to "/")
    sock.sendall(bytes([0x81, 0x82]) + mask + bytes(b ^ mask[i] for i, b in enumerate(b"40")))
    sock.setblocking(False)
    return sock


def helper(url: str, count: int) -> None:
    parts = urlsplit(url)
    socks = [raw_client(parts.hostname, parts.port) for _ in range(count)]
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    lat: list[float] = []
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            for key, _ in selector.select(0.1):
                try:
                    data = key.fileobj.recv(1 << 16)
                except BlockingIOError:
                    continue
                now = time.time()
                if (m := FIRST_T.search(data)) is not None:
                    lat.append(now - float(m.group(1)))

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()
    thread.join()
    for sock in socks:
        sock.close()
    print(json.dumps(summary_ms(lat)))


def run(bench) -> list[dict]:
    server = bench.server()
    probe = Client(server.url)
    seconds, repeats, many = bench.q(5.0, 1.0), bench.q(3, 1), 50
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
    for k in ("one", "many", "slow"):  # CPU beside wall time: the server's, per mutation
        m[k]["server_us"] = median([r["server_us"] for r in results[k]])
    held_back = "is not reading" in server.log_path.read_text()
    bench.log(f"{m}; slow client held back: {held_back}")
    bench.data["fanout"] = m
    return [
        at_most(
            "fanout.50.p99",
            f"push latency p99 with {many} clients vs 1 (probe client)",
            m["many"]["p99"],
            m["one"]["p99"],
            "ms",
            2,
            baseline_name="one client",
            note=f"the other {many - 1} clients (sampled: first op of each chunk read): "
            f"p50 {m['others']['p50']:.1f} ms, p99 {m['others']['p99']:.1f} ms; server CPU per mutation "
            f"{m['many']['server_us']:.0f} µs with {many} clients, {m['one']['server_us']:.0f} µs with one",
        ),
        at_most(
            "fanout.slow.p99",
            "push latency p99 with a client that never reads vs without",
            m["slow"]["p99"],
            m["one"]["p99"],
            "ms",
            1.5,
            baseline_name="one client",
            target="≈ 1× (≤ 1.5× for noise)",
            note=f"p50 {m['slow']['p50']:.1f} vs {m['one']['p50']:.1f} ms; "
            f"server held the slow client back: {'yes' if held_back else 'no'}",
        ),
    ]


if __name__ == "__main__":
    helper(sys.argv[1], int(sys.argv[2]))
