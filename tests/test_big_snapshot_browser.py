"""A big snapshot is loaded a slice per task, and the page still ends up showing every change.

Built in one go, a 100,000-entry dict and list held the page for one ~100 ms task (make
bench: browser.longtasks); objects.js now builds such objects a slice per task and puts each
in whole, while the changes that arrive meanwhile wait and are applied after it, in order.
Real server, real workers writing while the page loads, real headless Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_support import LiveServer, browser, checked_page, live_server  # noqa: F401 -- fixtures
from playwright.sync_api import expect

from testkit.waiting import wait_for

expect.set_options(timeout=30_000)
ENTRIES = 30_000


@pytest.fixture
def page(browser) -> Iterator:  # noqa: F811 -- the imported fixture
    """A 1280 × 800 page that must see no uncaught exception or console error."""
    with checked_page(browser, height=800) as page:
        yield page


def test_a_big_snapshot_and_the_changes_during_its_load_all_reach_the_page(
    live_server: LiveServer,  # noqa: F811 -- the imported fixture
    page,
):
    live_server.reset()
    live_server.spawn(2, "fill", n=ENTRIES // 2, target="dict")
    live_server.spawn(1, "fill", n=ENTRIES, target="list")
    live_server.wait_idle(120)
    # workers keep writing while the page connects and loads: their changes wait for the load
    live_server.spawn(1, "burst", n=3000, rate=3000, target="list")
    live_server.spawn(1, "burst", n=3000, rate=3000, keys=10, target="dict")
    page.goto(live_server.url)
    expect(page.locator("#connection")).to_have_text("Live")
    state = live_server.wait_settled(120)
    expect(page.locator("#version")).to_have_text(f"v{state['version']}")
    expect(page.locator("#list-count")).to_have_text(f"{len(state['list'])} items")
    expect(page.locator("#dict-count")).to_have_text(f"{len(state['dict'])} keys")
    # the newest items are shown as the server has them (the list follows its end)
    shown = page.locator("#shared-list .vrow:visible .val")
    expect(shown.filter(has_text=re.compile(rf"^{state['list'][-1]}$")).first).to_be_visible()
    # the snapshot was parsed by the worker (offthread.js), not on the page's main thread
    loaded = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    assert any(name.endswith("/static/js/snapshot-worker.js") for name in loaded), loaded
    # only the rows in view exist
    wait_for(lambda: page.locator("#shared-dict .vrow").count() < 60, 10, "a bounded number of dict rows")
