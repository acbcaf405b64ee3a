"""The dashboard as a first-time user meets it (issue 13): phone width, new keys, empty states,
the output log after a reload, a deadlock, the worker limit and the counter's lost updates.

Reuses the dashboard harness of test_browser.py (``open_page`` fails a test on any JavaScript
error); each test starts from a server with no workers and an empty shared state.
"""

from __future__ import annotations

import re
import uuid

import pytest
from browser_support import LiveServer, live_server, wait_until  # noqa: F401 -- fixtures
from playwright.sync_api import Locator, expect
from test_browser import DESKTOP, PHONE, Dashboard, clean_server, open_page  # noqa: F401 -- fixtures

pytestmark = pytest.mark.browser


def unique(prefix: str) -> str:
    """A lock name no other test uses (lock state outlives a reset of the shared dict and list)."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def inside(box: dict | None, viewport: dict) -> bool:
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def wait_ended(server: LiveServer, pids: list[int]) -> None:
    wait_until(
        lambda: all(server.workers()[pid]["state"] in ("exited", "killed") for pid in pids),
        30,
        f"workers {pids} to end",
    )


# -- phone width ----------------------------------------------------------------------------
def test_at_phone_width_worker_actions_are_on_screen_and_locks_show_a_dead_holder(clean_server, open_page):  # noqa: F811 -- fixtures
    dash = open_page(clean_server.url, viewport=PHONE)
    name = unique("phone")
    (holder,) = clean_server.spawn_pids(1, "hold_lock", lock=name, seconds=60)
    lock_row = dash.page.locator(f'#locks tr[data-lock="{name}"]')
    expect(lock_row).to_contain_text(f"PID {holder}")

    row = dash.row(holder)
    # the tables, not their rows: a row is redrawn on every update and may be detached mid-scroll
    dash.page.locator("#workers").scroll_into_view_if_needed()
    for label in (
        f"Kill {holder}",
        f"Force stop {holder} (signal 9)",
        f"Output of {holder}",
        f"Stack of {holder}",
    ):
        button = row.get_by_role("button", name=label, exact=True)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert inside(box, PHONE), f"{label} is off-screen at 390 px: {box}"
    height = row.bounding_box()["height"]
    assert height <= 80, f"a worker row is {height:.0f} px tall at 390 px"

    dash.force_button(holder).click()
    expect(dash.cell(holder, "State")).to_have_text("killed")
    held_by = lock_row.locator("td").nth(1)
    dash.page.locator("#locks").scroll_into_view_if_needed()
    expect(held_by).to_have_text(f"PID {holder} (dead)")
    expect(held_by).to_be_visible()
    # the row is redrawn on every update: a box measured as it is replaced is None
    wait_until(lambda: inside(held_by.bounding_box(), PHONE), 5, "the holder cell on screen")
    release = lock_row.get_by_role("button", name="Release")
    expect(release).to_be_visible()  # drawn with the row's next render, maybe after the text
    wait_until(lambda: inside(release.bounding_box(), PHONE), 5, "the Release button on screen")
    release.click()
    expect(held_by).to_have_text("free")
    width = dash.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width}px wide"


# -- new dict keys ------------------------------------------------------------------------------
def new_keys_of(dash: Dashboard, pid: int) -> Locator:
    return dash.page.locator("#shared-dict .vrow:visible").filter(has_text=re.compile(rf"^'{pid}:\d+'"))


def test_new_dict_keys_below_the_view_are_announced_revealed_and_marked(clean_server, open_page):  # noqa: F811 -- fixtures
    dash = open_page(clean_server.url)
    old = clean_server.spawn_pids(1, "burst", n=200, keys=200, target="dict")
    expect(dash.page.locator("#dict-count")).to_have_text("200 keys")
    dict_box = dash.page.locator("#shared-dict")
    dict_box.evaluate("box => box.scrollTo(0, 0)")  # reading the oldest keys
    expect(new_keys_of(dash, old[0]).first).to_have_text(re.compile(rf"^'{old[0]}:0'"))

    (fresh,) = clean_server.spawn_pids(1, "burst", n=8, keys=8, target="dict")
    announce = dash.page.locator("#dict-new")
    expect(announce).to_have_text("↓ 8 new keys below")
    expect(new_keys_of(dash, fresh)).to_have_count(0)  # out of sight until asked for
    announce.click()
    expect(new_keys_of(dash, fresh)).to_have_count(8)
    for row in new_keys_of(dash, fresh).all():  # marked from the moment they are shown
        expect(row).to_have_class(re.compile(r"\bnew-key\b"))
    expect(announce).to_be_hidden()

    # at the bottom, the panel follows new keys by itself, and marks them
    (more,) = clean_server.spawn_pids(1, "burst", n=3, keys=3, target="dict")
    expect(new_keys_of(dash, more)).to_have_count(3)
    for row in new_keys_of(dash, more).all():
        expect(row.locator(".new-tag")).to_have_text("new")
    expect(announce).to_be_hidden()


# -- empty states -----------------------------------------------------------------------------
def test_empty_panels_a_silent_worker_and_an_empty_filter_say_why(clean_server, open_page):  # noqa: F811
    dash = open_page(clean_server.url)
    page = dash.page
    expect(page.locator("#list-empty")).to_contain_text("no worker has appended to it yet")
    expect(page.locator("#dict-empty")).to_contain_text("no worker has written a key yet")
    expect(page.locator("#shared-list")).to_be_hidden()  # no empty grey box above the hint
    expect(page.locator("#shared-dict")).to_be_hidden()

    (silent,) = clean_server.spawn_pids(1, "sleep", seconds=30)
    page.get_by_role("button", name=f"Output of {silent}").click()
    expect(page.locator("#inspector-empty")).to_have_text(
        re.compile(rf"PID {silent} has not printed anything yet")
    )
    expect(page.locator("#inspector-output")).to_be_hidden()
    page.get_by_role("button", name="Close").click()

    (printer,) = clean_server.spawn_pids(1, "printer", lines=6)
    expect(page.locator("#output-count")).to_have_text("6 of 6 lines")
    page.locator("#output-text").fill("no such words")
    nomatch = page.locator("#output-nomatch")
    expect(nomatch).to_contain_text('No line contains "no such words": all 6 lines are hidden by the filter.')
    expect(page.locator("#output-log")).to_be_hidden()
    nomatch.get_by_role("button", name="Show all lines").click()
    expect(page.locator("#output-text")).to_have_value("")
    expect(page.locator("#output-log")).to_contain_text(f"line 6 from {printer}")


# -- output after a reload ----------------------------------------------------------------------
def test_after_a_reload_the_output_log_shows_its_last_line(clean_server, open_page):  # noqa: F811 -- fixtures
    (printer,) = clean_server.spawn_pids(1, "printer", lines=100)
    wait_ended(clean_server, [printer])
    dash = open_page(clean_server.url)
    dash.page.reload()
    expect(dash.connection).to_have_text("Live")
    log = dash.page.locator("#output-log")
    last = log.locator(".vrow:visible").filter(has_text=re.compile(rf"^{printer} out\s*100\s*line 100 from"))
    expect(last).to_have_count(1)

    def last_line_inside() -> bool:
        box, line = log.bounding_box(), last.bounding_box()
        return line is not None and line["y"] + line["height"] <= box["y"] + box["height"] + 1

    wait_until(last_line_inside, 5, "the last output line to be inside the log")


# -- deadlock -----------------------------------------------------------------------------------
def test_a_deadlock_is_announced_in_the_top_bar_wherever_the_page_is_scrolled(clean_server, open_page):  # noqa: F811 -- fixtures
    dash = open_page(clean_server.url, viewport={"width": 1280, "height": 900})
    a, b = unique("a"), unique("b")
    # each takes its first lock, pauses long enough for the other to take its own, then waits
    first = clean_server.spawn_pids(1, "deadlock", first=a, second=b, pause=1)[0]
    second = clean_server.spawn_pids(1, "deadlock", first=b, second=a, pause=1)[0]
    alert = dash.page.locator("#deadlock-alert")
    expect(alert).to_contain_text(f"PID {first} waits for {b}")
    expect(alert).to_contain_text(f"PID {second} waits for {a}")
    expect(dash.cell(first, "State")).to_contain_text(f"deadlocked: waiting for {b}, held by {second}")
    for where in ("0", "document.body.scrollHeight"):
        dash.page.evaluate(f"window.scrollTo(0, {where})")
        box = alert.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900, box
    dash.kill_button(first).click()
    expect(alert).to_be_hidden()


# -- the worker limit --------------------------------------------------------------------------
def test_the_worker_limit_is_explained_in_words_without_a_command_line_flag(clean_server, open_page):  # noqa: F811 -- fixtures
    dash = open_page(clean_server.url)
    clean_server.spawn_pids(1, "sleep", seconds=60)
    dash.page.locator("#spawn-count").fill("8")
    dash.page.get_by_role("button", name="Spawn").click()
    toast = dash.page.locator("#toasts .toast.error")
    expect(toast).to_have_text(
        "1 worker is running and at most 8 may run at once: 8 more would exceed that limit (7 more can start)"
    )
    assert "--" not in toast.inner_text()
    assert len(clean_server.workers()) == 1  # nothing started


def test_the_spawn_form_shows_its_limits_and_names_a_value_outside_them(clean_server, open_page):  # noqa: F811
    dash = open_page(clean_server.url, viewport=PHONE)
    page = dash.page
    expect(page.locator("#limits-count")).to_have_text("1–8")  # this server's limit, not the flag
    page.locator("#spawn-task").select_option("counter")
    expect(page.locator("#limits-n")).to_have_text("1–1000000")
    page.locator("#spawn-count").fill("40")
    page.locator("#param-n").fill("0")
    page.get_by_role("button", name="Spawn").click()
    expect(page.locator("#spawn-error")).to_have_text("'count' must be 1–8")
    page.locator("#spawn-count").fill("2")
    page.get_by_role("button", name="Spawn").click()
    expect(page.locator("#spawn-error")).to_have_text("'n' must be 1–1000000")
    expect(page.locator("#limits-n")).to_be_visible()
    assert inside(page.locator("#limits-n").bounding_box(), PHONE)
    assert clean_server.workers() == {}  # nothing was started
    page.locator("#param-n").fill("10")
    page.get_by_role("button", name="Spawn").click()
    expect(dash.rows).to_have_count(2)
    expect(page.locator("#spawn-error")).to_be_hidden()


# -- the counter task ---------------------------------------------------------------------------
def counter_value(server: LiveServer) -> int:
    return dict((k, v) for k, v in server.state()["dict"])["counter"]


def test_the_unlocked_counter_shows_expected_against_actual_and_the_lost_updates(clean_server, open_page):  # noqa: F811 -- fixtures
    dash = open_page(clean_server.url)
    note = dash.page.locator("#counter-check")
    pids = clean_server.spawn_pids(4, "counter", n=1000)
    wait_ended(clean_server, pids)
    actual = counter_value(clean_server)
    lost = 4000 - actual
    if lost:
        expect(note).to_contain_text(f'd["counter"] is {actual:,}, expected 4,000 (4 workers × 1,000)')
        expect(note).to_contain_text(f"{lost:,} update{'s' if lost != 1 else ''} lost")
    else:  # the race was not hit this time; the page must still say what to expect
        expect(note).to_contain_text("as expected (4 workers × 1,000)")

    # a new counter after Reset state: the old workers no longer count; the lock loses nothing
    dash.page.get_by_role("button", name="Reset state").click()
    expect(note).to_be_hidden()
    pids = clean_server.spawn_pids(2, "counter", n=300, lock=True)
    wait_ended(clean_server, pids)
    expect(note).to_have_text(
        'd["counter"] is 600, as expected (2 workers × 300): no update lost, the lock kept each += 1 whole.'
    )


def test_hold_lock_says_it_released_the_lock(clean_server, open_page):  # noqa: F811 -- fixtures
    dash = open_page(clean_server.url)
    (pid,) = clean_server.spawn_pids(1, "hold_lock", lock=unique("brief"), seconds=0.2)
    entry = dash.page.locator("#shared-dict .vrow:visible").filter(has_text=re.compile(rf"^{pid}\s*:"))
    expect(entry.locator(".val")).to_have_text("'released the lock'")
