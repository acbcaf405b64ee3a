"""Fault 6: clients that stop reading, and clients that come and go in a loop. Long variants
(30 s, 50 clients) run in ``make chaos``."""

from __future__ import annotations

from reliability_support import (  # noqa: F401 -- servers_fixture provides `servers`
    Server,
    reconnect_loop,
    servers_fixture,
    stuck_clients,
)


def test_clients_that_stop_reading_are_held_back_and_resynced(servers):
    """Two raw websocket clients stop reading while 4 workers write flat out: they are held
    back, a reading client and REST stay prompt, and each gets a snapshot when it reads again."""
    srv: Server = servers(max_workers=8)
    figures = stuck_clients(srv, seconds=1, stuck=2)
    assert figures["held_back"] >= 2
    assert figures["resynced_with_snapshot"] == 2
    assert figures["slowest_healthz_s"] < 2.0, figures


def test_clients_reconnecting_in_a_loop_leave_nothing_behind(servers):
    """Ten clients connect and disconnect in a loop for 2 s while a worker writes: the server stays
    prompt, fds return to baseline at once, and at most one thread per closed connection (Engine.IO's
    sleeping ping thread, gone within 25 s; make chaos waits for it) is left."""
    srv: Server = servers(max_workers=8)
    figures = reconnect_loop(srv, clients=10, seconds=2)
    assert figures["connections"] >= 10
    assert figures["slowest_healthz_s"] < 2.0, figures
