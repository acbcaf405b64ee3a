"""10. The observer stays light: idle CPU with 3 pages open, and CPU per mutation.

Idle: 3 headless Chromium pages on the dashboard, nothing changing; meanwhile, on the
same clock, the polling baseline with 3 clients. Both servers' CPU is read over the same
window. Busy: 1,000 mutations/s from 8 workers; the server's and the Manager's CPU per
mutation next to a plain Manager's under the same writers (bare processes running the
same ``burst`` loop), in alternating phases.
"""

from __future__ import annotations

import multiprocessing
import time

from playwright.sync_api import sync_playwright

from testkit.browser import launch_chromium

from . import bench_latency, plain
from .bench_browser import open_page
from .harness import Client, Server, cpu_seconds, figure, median

WORKERS, RATE = 8, 1000


def plain_phase(ctx, manager, d, seconds: float) -> float:
    """The plain Manager's CPU µs per mutation under the same 8 writers at 1,000/s."""
    go, done = ctx.Event(), ctx.Queue()
    n = int(RATE / WORKERS * seconds)
    procs = [
        ctx.Process(target=plain.timed_burst, args=(d, None, go, done, n, RATE / WORKERS, 100, "dict"))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        done.get(timeout=60)
    go.set()
    time.sleep(seconds * 0.2)
    cpu0 = cpu_seconds(manager._process.pid)
    time.sleep(seconds * 0.6)
    used = cpu_seconds(manager._process.pid) - cpu0
    for _ in procs:
        done.get(timeout=120)
    for p in procs:
        p.join()
    d.clear()
    return used / (RATE * seconds * 0.6) * 1e6


def run(bench) -> list[dict]:
    server = bench.server()
    window = bench.q(20.0, 1.0)
    base = Server("benchmarks.polling_server", name="polling")
    rows = []
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                pages = [open_page(browser, server.url) for _ in range(3)]
                base_clients = [Client(base.url, on_event=lambda *a: None, replica=False) for _ in range(3)]
                time.sleep(bench.q(2.0, 0.5))  # settle after connecting
                ours0, base0 = server.cpu(), base.cpu()
                time.sleep(window)
                ours1, base1 = server.cpu(), base.cpu()
                for c in base_clients:
                    c.close()
                for page in pages:
                    page.close()
            finally:
                browser.close()
    finally:
        base.stop()
    idle = (ours1[0] - ours0[0]) / window * 100
    idle_manager = (ours1[1] - ours0[1]) / window * 100
    base_idle = (base1[0] - base0[0]) / window * 100
    bench.log(f"idle: server {idle:.2f}% (Manager {idle_manager:.2f}%), polling baseline {base_idle:.1f}%")
    rows.append(
        figure(
            "cpu.idle",
            "server CPU, 3 pages open, nothing changing",
            idle,
            base_idle,
            "% of a core",
            baseline_name="polling baseline with 3 clients, same window",
            target="< 1%",
            met=idle < 1,
            note=f"over {window:.0f} s; mpscope's Manager {idle_manager:.2f}%",
        )
    )

    client = Client(server.url)
    ctx = multiprocessing.get_context("forkserver")
    manager = ctx.Manager()
    d = manager.dict()
    seconds, repeats = bench.q(5.0, 1.0), bench.q(3, 1)
    ours, theirs = [], []
    try:
        client.wait(lambda: client.replica.version >= 0, what="the first snapshot")
        for rep in range(repeats):
            for kind in ["plain", "mpscope"] if rep % 2 == 0 else ["mpscope", "plain"]:
                if kind == "plain":
                    theirs.append(plain_phase(ctx, manager, d, seconds))
                else:
                    ours.append(bench_latency.phase(server, client, RATE, seconds))
    finally:
        client.close()
        manager.shutdown()
    srv, mgr, pm = (
        median([r["server_us"] for r in ours]),
        median([r["manager_us"] for r in ours]),
        median(theirs),
    )
    bench.log(f"per mutation: server {srv:.1f} µs, Manager {mgr:.1f} µs, plain Manager {pm:.1f} µs")
    rows.append(
        figure(
            "cpu.manager_us",
            "Manager CPU per mutation at 1,000/s, recording vs plain",
            mgr,
            pm,
            "µs",
            baseline_name="plain Manager, same writers",
            target="report",
        )
    )
    rows.append(
        figure(
            "cpu.server_us",
            "server CPU per mutation at 1,000/s (1 client), vs the plain Manager's",
            srv,
            pm,
            "µs",
            baseline_name="plain Manager, same writers",
            target="report",
            note=f"server + Manager together: {srv + mgr:.1f} µs = {(srv + mgr) / pm:.1f}× the plain Manager",
        )
    )
    return rows
