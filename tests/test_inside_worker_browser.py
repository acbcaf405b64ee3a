"""Inside a worker, in the browser: the output log, the Stack button and the Locks panel."""

from __future__ import annotations

import uuid

import pytest
from browser_support import LiveServer, checked_page, live_server, wait_until  # noqa: F401 -- fixtures
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)


def test_printer_lines_the_stack_of_a_sleeper_and_a_lock_holder_show_in_the_page(
    browser: Browser,
    live_server: LiveServer,  # noqa: F811
):
    live_server.reset()
    with checked_page(browser, console=False) as page:
        page.goto(live_server.url)
        expect(page.locator("#connection")).to_have_text("Live")

        (printer,) = live_server.spawn_pids(1, "printer", lines=5, stream="both")
        log = page.locator("#output-log")
        expect(log).to_contain_text(f"line 5 from {printer} (stderr)")
        expect(log.locator(".vrow.stderr").first).to_be_visible()

        (sleeper,) = live_server.spawn_pids(1, "sleep", seconds=30)

        def in_task() -> bool:  # a stack taken before the task starts shows only the bootstrap
            stack = live_server.call("GET", f"/api/workers/{sleeper}/stack")
            return any(f["function"] == "sleep" for t in stack["threads"] for f in t["frames"])

        wait_until(in_task, what="the sleeper to be inside its task")
        page.get_by_role("button", name=f"Stack of {sleeper}").click()
        frame = page.locator("#inspector .frame.task")
        expect(frame).to_contain_text("time.sleep(seconds)")
        # innermost first, opened at the program's own frame; mpscope's bootstrap is left out
        expect(page.locator("#inspector .frame").first).to_contain_text("time.sleep(seconds)")
        expect(page.locator("#inspector-stack")).not_to_contain_text("bootstrap.py")
        page.get_by_role("button", name="Close").click()

        name = f"shown-{uuid.uuid4().hex[:6]}"
        (holder,) = live_server.spawn_pids(1, "hold_lock", lock=name, seconds=30)
        row = page.locator(f'#locks tr[data-lock="{name}"]')
        expect(row).to_contain_text(f"PID {holder}")
        (waiter,) = live_server.spawn_pids(1, "hold_lock", lock=name, seconds=0)
        expect(row).to_contain_text(str(waiter))
        expect(page.locator(f'#workers tr[data-pid="{waiter}"]')).to_contain_text(
            f"waiting for {name}, held by {holder}"
        )
