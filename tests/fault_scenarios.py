"""Fault scenarios, short in the tests and long in ``chaos/run.py``: kills of workers, Manager, server.

Each takes a started :class:`testkit.server.Server`, injects its fault, asserts the invariants
and returns the figures for the chaos report.
"""

from __future__ import annotations

import os
import random
import signal
import time

from hostile_clients import Hammer
from state_checks import after_storm, assert_same_state

from testkit.client import SocketClient as Watcher
from testkit.client import dict_of
from testkit.rest import ENDED, LIVE
from testkit.server import Server
from testkit.waiting import is_alive, wait_for


def kill_storm(srv: Server, seconds: float, workers: int = 8, keys: int = 20, clients: int = 2) -> dict:
    """SIGKILL random ``burst`` workers (replacing each) for ``seconds``; check nothing was lost.

    Each kill waits until the state moved on by a random number of changes, so kills land
    at random points of the workers' writes. Returns the figures for the report.
    """
    rng = random.Random()
    watchers = [Watcher(srv, reconnect=True) for _ in range(clients)]
    try:
        srv.spawn(1, "burst", n=10, keys=keys)  # warm up: everything lazily created exists now
        srv.wait_settled()
        base_fds, base_threads = srv.fds(), srv.threads()
        params = {"n": 10_000_000, "keys": keys}
        live = [w["pid"] for w in srv.spawn(workers, "burst", **params)]
        killed: list[int] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            target = srv.health()["version"] + rng.randint(1, 2000)
            wait_for(lambda t=target: srv.health()["version"] >= t, 10, "the workers to write")
            victim = live.pop(rng.randrange(len(live)))
            response = srv.kill(victim, "KILL")
            assert response.status_code == 202, response.text
            killed.append(victim)
            wait_for(lambda v=victim: srv.get_json(f"/api/workers/{v}")["state"] in ENDED, 10, "the reap")
            live += [w["pid"] for w in srv.spawn(1, "burst", **params)]
        for pid in live:
            assert srv.kill(pid, "KILL").status_code == 202
        killed += live
        figures = assert_same_state(srv, watchers, timeout=max(20.0, seconds * 2))
        table = srv.workers()
        for pid in killed:
            info = table[pid]
            assert (info["state"], info["signal"]) == ("killed", "SIGKILL"), info
            assert not is_alive(srv.tracked[pid]), f"worker {pid} still runs"
        return {
            "seconds": seconds,
            "workers_killed": len(killed),
            **after_storm(srv, watchers, keys, base_fds, base_threads),
            "state_version": figures["version"],
        }
    finally:
        for watcher in watchers:
            watcher.close()


def kill_manager(srv: Server, watcher: Watcher, rounds: int = 1) -> dict:
    """SIGKILL the Manager ``rounds`` times under load; check restart, restore and restarted workers."""
    srv.spawn(1, "burst", n=500, keys=500)
    before = srv.wait_settled()
    tickers = [w["pid"] for w in srv.spawn(2, "append_pid", interval=0.05)]
    hammer = Hammer(srv, spawn=True)
    noticed = []

    def manager_events(state: str) -> list[dict]:
        return [m for m in watcher.received("manager") if m["state"] == state]

    def restarted_from(old: list[int]) -> list[dict] | None:
        found = [w for w in srv.workers().values() if w["restarted_from"] in old and w["state"] in LIVE]
        return found if len(found) == len(old) else None

    try:
        for n in range(1, rounds + 1):
            old_pid = srv.manager_pid
            version = srv.health()["version"]
            wait_for(lambda v=version: srv.health()["version"] > v + 4, 10, "the tickers to write")
            seen = len(manager_events("restarting"))
            killed_at = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)
            watcher.wait(lambda s=seen: len(manager_events("restarting")) > s, 5, "a manager event")
            noticed.append(time.monotonic() - killed_at)
            health = wait_for(lambda n=n: (h := srv.health())["manager_restarts"] == n and h, 10, "a restart")
            assert health["manager_pid"] not in (old_pid, None), health
            shown = {"pid": health["manager_pid"], "restarts": n, "state": "running"}
            watcher.wait(lambda s=shown: s in manager_events("running"), 10, "the running event")
            restarted = wait_for(lambda t=tickers: restarted_from(t), 10, "the restarted workers")
            table = srv.workers()
            assert all(table[pid]["state"] in ENDED for pid in tickers)
            tickers = [w["pid"] for w in restarted]
            for pid in tickers:
                srv.track(pid)
    finally:
        statuses = hammer.stop()
    for pid in tickers:
        assert srv.kill(pid, "KILL").status_code == 202
    state = assert_same_state(srv, [watcher])
    after = dict_of(srv.state("manager")["dict"])
    for k, v in dict_of(before["dict"]).items():  # the burst's entries came through every restart
        assert after.get(k) == v, f"{k} lost in the restart"
    return {
        "manager_kills": rounds,
        "noticed_within_s": round(max(noticed), 3),
        "statuses": statuses,
        "state_version": state["version"],
    }


def server_kill(srv: Server) -> dict:
    """Start workers of every kind, SIGKILL the server: every descendant must exit within 2 s."""
    srv.spawn(2, "append_pid", interval=0.05)
    srv.spawn(1, "hold_lock", lock="held", seconds=3600)
    srv.spawn(1, "hold_lock", lock="held", seconds=1)  # waits for the lock
    srv.spawn(1, "printer", lines=1_000_000, interval=0.01)
    srv.spawn(1, "burst", n=10_000_000, rate=1000.0)
    srv.spawn(1, "sleep", seconds=3600)
    srv.spawn(1, "cpu", seconds=3600)
    watcher = Watcher(srv)
    try:
        wait_for(lambda: all(w["state"] == "running" for w in srv.workers().values()), 10, "running workers")
        wait_for(lambda: srv.get_json("/api/locks")["locks"][0]["waiters"], 10, "a lock waiter")
        processes = len(srv.track_descendants())
        survivors, took = srv.kill_hard(within=2.0)
    finally:
        watcher.close()
    assert not survivors, f"orphans still running 2 s after the server was SIGKILLed: {survivors}"
    return {"processes": processes, "orphans": len(survivors), "all_gone_after_s": round(took, 3)}


def short_workers(srv: Server, total: int, batch: int, cap: int) -> dict:
    """Spawn and end ``total`` short workers; the table keeps ``cap`` ended, memory stays flat.

    ``srv`` must run with ``--ended-cap cap`` and ``--max-workers >= batch``.
    """
    watcher = Watcher(srv)
    try:
        done = 0

        def run_batch() -> int:
            srv.spawn(batch, "sleep", seconds=0)
            wait_for(lambda: srv.health()["workers"] == 0, 20, "the batch to end")
            return batch

        while done < min(total, 2 * cap):  # warm up, and fill the table to its cap
            done += run_batch()
        base_fds, base_threads, base_rss = srv.fds(), srv.threads(), srv.rss()
        while done < total:
            done += run_batch()
        state = srv.state()
        ended = [w for w in state["workers"] if w["state"] in ENDED]
        assert state["limits"]["ended_cap"] == cap
        assert len(ended) == min(cap, done), f"{len(ended)} ended workers kept, cap {cap}"
        kept = {w["pid"] for w in ended}
        watcher.wait(lambda: set(watcher.workers) == kept, 10, "the client's table to match")
        newest_dropped = max((t for pid, t in watcher.ended_at.items() if pid not in kept), default=0)
        assert newest_dropped <= min(w["ended_at"] for w in ended), "a newer worker was dropped first"
        srv.wait_baseline(base_fds, base_threads)
        wait_for(lambda: not srv.zombies(), 5, "no zombies")
        growth = srv.rss() - base_rss
        return {
            "workers": done,
            "ended_kept": len(ended),
            "ended_cap": cap,
            "rss_growth_mib": round(growth / 2**20, 1),
            "rss_mib": round(srv.rss() / 2**20, 1),
            "fd_drift": srv.fds() - base_fds,
            "thread_drift": srv.threads() - base_threads,
            "zombies": len(srv.zombies()),
        }
    finally:
        watcher.close()
