"""Faults injected into a running dashboard: killed workers, dead lock holders, a dead Manager,
a dead server, long runs and spawn storms. Long variants run in ``make chaos``."""

from __future__ import annotations

from reliability_support import (  # noqa: F401 -- servers_fixture provides `servers`
    Server,
    Watcher,
    dict_of,
    key,
    kill_manager,
    kill_storm,
    server_kill,
    servers_fixture,
    short_workers,
    spawn_storm,
    wait_for,
)


def test_workers_killed_mid_write_lose_nothing(servers):
    """Fault 1, short: SIGKILL random burst workers for 1.5 s; clients == /api/state == Manager."""
    srv: Server = servers(max_workers=8)
    figures = kill_storm(srv, seconds=1.5, workers=8)
    assert figures["workers_killed"] >= 8
    assert figures["lost_acknowledged_changes"] == 0


def lock_row(srv: Server, name: str) -> dict | None:
    table = srv.get_json("/api/locks")
    return next((row for row in table["locks"] if row["name"] == name), None)


def test_a_worker_that_dies_holding_a_lock_is_shown_and_the_user_releases_it(servers):
    """Fault 2: SIGKILL a lock holder. Nothing hangs, the lock shows its holder dead, and only a
    dead holder's lock can be released by hand (we never auto-release: what it guarded may be
    half-written)."""
    srv: Server = servers(max_workers=8)
    holder = srv.spawn(1, "hold_lock", lock="L", seconds=3600)[0]["pid"]
    wait_for(lambda: (row := lock_row(srv, "L")) and row["holder_pid"] == holder, 10, "the holder")
    blocked = [w["pid"] for w in srv.spawn(2, "hold_lock", lock="L", seconds=0)]
    wait_for(lambda: set(lock_row(srv, "L")["waiters"]) == set(blocked), 10, "the waiters")

    refused = srv.request("POST", "/api/locks/L/release")
    assert refused.status_code == 409 and "alive" in refused.json()["error"]
    assert lock_row(srv, "L")["holder_pid"] == holder

    assert srv.kill(holder, "KILL").status_code == 202
    row = wait_for(lambda: (r := lock_row(srv, "L"))["holder_alive"] is False and r, 10, "a dead holder")
    assert row["holder_pid"] == holder, "the lock must not be released behind the user's back"
    assert set(row["waiters"]) == set(blocked)
    # the lock table sees the death at once; the worker table once the monitor has reaped it
    wait_for(lambda: srv.workers()[holder]["signal"] == "SIGKILL", 10, "the holder shown killed")
    for pid in blocked:  # still waiting, and the dashboard answers meanwhile
        assert srv.get_json(f"/api/workers/{pid}")["state"] in ("starting", "running")

    released = srv.request("POST", "/api/locks/L/release", json={})
    assert released.status_code == 200, released.text
    assert released.json() == {"released": "L", "holder_pid": holder}
    for pid in blocked:  # each waiter takes the lock in turn and finishes
        info = wait_for(lambda p=pid: (w := srv.workers()[p])["state"] == "exited" and w, 10, "a waiter")
        assert info["exitcode"] == 0
    assert srv.request("POST", "/api/locks/L/release").status_code == 409  # not held now
    assert srv.request("POST", "/api/locks/nope/release").status_code == 404
    entries = dict_of(srv.state("manager")["dict"])
    assert all(entries[key(pid)] == "released the lock" for pid in blocked)  # each held it, then let go


def test_the_manager_dies_and_is_restarted_with_the_shared_state(servers):
    """Fault 3: SIGKILL the Manager under load: noticed within 1 s, shown, restarted with the
    last known state; running workers restarted (restarted_from = old PID); no 500s."""
    srv: Server = servers(max_workers=8)
    watcher = Watcher(srv)
    try:
        figures = kill_manager(srv, watcher, rounds=2)
    finally:
        watcher.close()
    assert figures["noticed_within_s"] < 1.0, figures
    assert 500 not in figures["statuses"], figures


def test_no_orphan_outlives_a_sigkilled_server(servers):
    """Fault 4: SIGKILL the server; every worker, the Manager and the forkserver exit within 2 s."""
    srv: Server = servers(max_workers=10)
    figures = server_kill(srv)
    assert figures["orphans"] == 0 and figures["processes"] >= 10, figures


def test_ended_workers_are_capped_and_memory_stays_flat(servers):
    """Fault 5, short: 400 short workers with --ended-cap 50: 50 kept (oldest dropped first),
    fds and threads back to baseline, RSS flat."""
    srv: Server = servers("--ended-cap", "50", max_workers=25)
    figures = short_workers(srv, total=400, batch=25, cap=50)
    assert figures["ended_kept"] == 50
    assert figures["rss_growth_mib"] < 8, figures


def test_a_spawn_storm_never_exceeds_max_workers(servers):
    """Fault 7: 500 spawn and kill requests at once over REST and Socket.IO: every one answered,
    --max-workers never exceeded, the table matches the real processes."""
    srv: Server = servers(max_workers=8)
    figures = spawn_storm(srv, total=500, max_workers=8)
    assert sum(figures["answers"].values()) == 500
    assert figures["most_running"] <= 8
