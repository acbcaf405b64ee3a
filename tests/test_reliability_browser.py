"""The faults as a user sees them in headless Chromium: a dead lock holder shown and released from
the page, a Manager restart shown with the state kept, and the ended-workers cap shown."""

from __future__ import annotations

import os
import re
import signal

import pytest
from playwright.sync_api import expect
from reliability_page import Page, chromium_fixture  # noqa: F401 -- provides `chromium`
from reliability_support import servers_fixture  # noqa: F401 -- provides `servers`

from testkit.server import Server
from testkit.waiting import wait_for

pytestmark = pytest.mark.browser


def test_a_dead_lock_holder_is_shown_and_released_from_the_page(chromium, servers):
    srv: Server = servers(max_workers=4)
    holder = srv.spawn(1, "hold_lock", lock="L", seconds=3600)[0]["pid"]
    wait_for(lambda: srv.get_json("/api/locks")["locks"], 10, "the lock")
    waiter = srv.spawn(1, "hold_lock", lock="L", seconds=0)[0]["pid"]
    view = Page(chromium, srv.url)
    try:
        row = view.page.locator('#locks tbody tr[data-lock="L"]')
        expect(row).to_contain_text(f"PID {holder}")
        expect(row).to_contain_text(str(waiter))
        expect(row.get_by_role("button", name="Release")).to_have_count(0)  # the holder is alive
        assert srv.kill(holder, "KILL").status_code == 202
        expect(row).to_contain_text(f"PID {holder} (dead)")
        assert srv.get_json("/api/locks")["locks"][0]["holder_alive"] is False
        row.get_by_role("button", name="Release").click()
        expect(row).to_contain_text("free")
        wait_for(lambda: srv.get_json(f"/api/workers/{waiter}")["state"] == "exited", 10, "the waiter")
        assert view.errors == [], view.errors
    finally:
        view.close()


def test_a_manager_restart_is_shown_and_the_state_kept(chromium, servers):
    srv: Server = servers(max_workers=4)
    srv.spawn(1, "burst", n=20, keys=20)
    srv.wait_settled()
    view = Page(chromium, srv.url)
    try:
        info = view.page.locator("#manager-info")
        old = srv.manager_pid
        expect(info).to_have_text(f"Manager PID {old}")
        expect(view.page.locator("#dict-count")).to_have_text("20 keys")
        os.kill(old, signal.SIGKILL)
        expect(info).to_have_text(re.compile(r"^Manager PID \d+ · 1 restart$"))
        health = wait_for(lambda: (h := srv.health())["manager_restarts"] == 1 and h, 10, "the restart")
        new = health["manager_pid"]
        expect(info).to_have_text(f"Manager PID {new} · 1 restart")
        expect(view.page.locator("#dict-count")).to_have_text("20 keys")
        expect(view.page.locator("#connection")).to_have_text("Live")
        assert view.errors == [], view.errors
    finally:
        view.close()


def test_the_ended_workers_cap_is_shown(chromium, servers):
    srv: Server = servers("--ended-cap", "3", max_workers=8)
    srv.spawn(6, "sleep", seconds=0)
    wait_for(lambda: srv.health()["workers"] == 0, 10, "the workers to end")
    view = Page(chromium, srv.url)
    try:
        expect(view.page.locator("#ended-cap")).to_contain_text("up to 3")
        expect(view.page.locator("#workers tbody tr[data-pid]")).to_have_count(3)
        assert view.errors == [], view.errors
    finally:
        view.close()


def test_a_dead_holder_is_shown_after_kill_all_and_clear_ended_and_after_sigterm(chromium, servers):
    """Issue 12 item 10: once Clear ended removed its row, a dead holder is still marked, after a
    reload too (the snapshot says the holder is dead), and offered Release; so is a SIGTERMed one."""
    srv: Server = servers(max_workers=4)
    holder = srv.spawn(1, "hold_lock", lock="L", seconds=3600)[0]["pid"]
    wait_for(lambda: srv.get_json("/api/locks")["locks"], 10, "the lock")
    view = Page(chromium, srv.url)
    try:
        page = view.page
        row = page.locator('#locks tbody tr[data-lock="L"]')
        release = row.get_by_role("button", name="Release")
        expect(row).to_contain_text(f"PID {holder}")
        page.locator("#kill-all").click()
        expect(page.locator(f'#workers tbody tr[data-pid="{holder}"]')).to_contain_text("killed")
        page.locator("#clear-ended").click()
        expect(page.locator(f'#workers tbody tr[data-pid="{holder}"]')).to_have_count(0)
        expect(row).to_contain_text(f"PID {holder} (dead)")
        expect(release).to_have_count(1)
        page.reload()
        expect(row).to_contain_text(f"PID {holder} (dead)")
        release.click()
        expect(row).to_contain_text("free")

        second = srv.spawn(1, "hold_lock", lock="L", seconds=3600)[0]["pid"]  # gets it at once
        expect(row).to_contain_text(f"PID {second}")
        expect(release).to_have_count(0)
        worker_row = page.locator(f'#workers tbody tr[data-pid="{second}"]')
        worker_row.get_by_role("button", name=f"Kill {second}", exact=True).click()  # SIGTERM
        expect(row).to_contain_text(f"PID {second} (dead)")
        release.click()
        expect(row).to_contain_text("free")
        assert view.errors == [], view.errors
    finally:
        view.close()


def test_the_ended_workers_output_budget_is_shown_and_applied(chromium, servers):
    """With ``--ended-output-mib 1`` the page states the budget, and the output of the older of
    two ended ~1 MiB printers says its earlier lines were dropped, and why."""
    srv: Server = servers("--ended-output-mib", "1", max_workers=4)
    pids = []
    for _ in range(2):
        pid = srv.spawn(1, "printer", lines=2000, width=300)[0]["pid"]
        wait_for(lambda p=pid: srv.get_json(f"/api/workers/{p}/output")["total"] == 2000, 30, "its lines")
        wait_for(lambda p=pid: srv.get_json(f"/api/workers/{p}")["state"] == "exited", 30, "its end")
        pids.append(pid)
    wait_for(lambda: srv.get_json(f"/api/workers/{pids[0]}/output")["dropped"] > 0, 10, "the budget")
    view = Page(chromium, srv.url)
    try:
        expect(view.page.locator("#ended-cap")).to_contain_text("their output: up to 1 MiB in all")
        view.page.get_by_role("button", name=f"Output of {pids[0]}").click()
        dropped = view.page.locator("#inspector-dropped")
        expect(dropped).to_contain_text("earlier lines were dropped")
        expect(dropped).to_contain_text("ended workers' output shares 1 MiB, oldest dropped first")
        assert view.errors == [], view.errors
    finally:
        view.close()
