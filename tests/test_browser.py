"""The dashboard as a user sees it: headless system Chromium against a real server and real workers.

Every page opened through ``open_page`` records uncaught exceptions and console errors, and the
test fails at teardown if there was any. Waiting is done with Playwright's auto-waiting
``expect``; the server is checked through its REST API where the page cannot show a detail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser_support import LiveServer, free_port, live_server  # noqa: F401 -- fixtures
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

pytestmark = pytest.mark.browser

TIMEOUT = 10_000  # ms, for every expect() and action
RECONNECT_TIMEOUT = 20_000  # Socket.IO backs off up to 5 s (+50% jitter) between attempts
expect.set_options(timeout=TIMEOUT)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 800}


class Dashboard:
    """One open dashboard page, with the few ways a test needs to look at it."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))

    def open(self) -> Dashboard:
        self.page.goto(self.url)
        expect(self.connection).to_have_text("Live")
        return self

    @property
    def connection(self) -> Locator:
        return self.page.locator("#connection")

    @property
    def banner(self) -> Locator:
        return self.page.locator("#banner")

    @property
    def rows(self) -> Locator:
        return self.page.locator("#workers tbody tr[data-pid]")

    def row(self, pid: int | str) -> Locator:
        return self.page.locator(f'#workers tbody tr[data-pid="{pid}"]')

    def cell(self, pid: int | str, column: str) -> Locator:
        """The cell of worker ``pid`` under the column headed ``column``."""
        headers = [h.strip() for h in self.page.locator("#workers thead th").all_inner_texts()]
        return self.row(pid).locator("td").nth(headers.index(column))

    def kill_button(self, pid: int | str) -> Locator:
        return self.row(pid).get_by_role("button", name="Kill")

    def force_button(self, pid: int | str) -> Locator:
        return self.row(pid).get_by_role("button", name=f"Force stop {pid} (signal 9)", exact=True)

    def list_value(self, pid: int | str) -> Locator:
        """The shown shared-list item whose value is ``pid`` (the virtual list hides spare rows)."""
        return self.page.locator("#shared-list .vrow:visible .val").filter(has_text=re.compile(rf"^{pid}$"))

    def dict_key(self, pid: int | str) -> Locator:
        """The shown shared-dict entry whose key is ``pid``."""
        return self.page.locator("#shared-dict .vrow:visible .key").filter(has_text=re.compile(rf"^{pid}$"))

    def spawn(self) -> str:
        """Press Spawn (one append_pid worker, the form's defaults); return the new row's PID."""
        before = self.rows.count()
        self.page.get_by_role("button", name="Spawn").click()
        expect(self.rows).to_have_count(before + 1)
        pid = self.rows.first.get_attribute("data-pid")  # new rows go on top
        assert pid and pid.isdigit(), pid
        return pid


@pytest.fixture
def clean_server(live_server: LiveServer) -> LiveServer:  # noqa: F811 -- the imported fixture
    """The module's server, with no workers and an empty shared state."""
    live_server.reset()
    return live_server


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Dashboard]]:
    """Open dashboards in fresh browser contexts; fail if any of them showed a JavaScript error."""
    contexts, dashboards = [], []

    def opener(url: str, **context_options: Any) -> Dashboard:
        context_options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**context_options)
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        dashboard = Dashboard(context.new_page(), url)
        dashboards.append(dashboard)
        return dashboard.open()

    yield opener
    for context in contexts:
        context.close()
    errors = [error for dashboard in dashboards for error in dashboard.errors]
    assert not errors, "the page showed JavaScript errors:\n" + "\n".join(errors)


def scrolled_box(locator: Locator, attempts: int = 5) -> dict:
    """Scroll ``locator`` into view and return its box; again if a redraw detached it meanwhile
    (a worker's row is redrawn on every update)."""
    for _ in range(attempts):
        try:
            locator.scroll_into_view_if_needed()
            box = locator.bounding_box()
        except PlaywrightError:
            continue  # detached mid-scroll: the locator finds the new element
        if box is not None:
            return box
    raise AssertionError(f"{locator} could not be scrolled into view")


def luminance(css_color: str) -> float:
    """Relative luminance (0 black .. 1 white) of an ``rgb(...)``/``rgba(...)`` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# -- 1. spawn ------------------------------------------------------------------------------
def test_spawn_shows_a_running_worker_whose_pid_is_in_the_shared_list_and_dict(clean_server, open_page):
    dash = open_page(clean_server.url)
    expect(dash.connection).to_have_text("Live")
    expect(dash.page.locator("#no-workers")).to_be_visible()

    pid = dash.spawn()

    expect(dash.list_value(pid)).to_have_count(1)
    expect(dash.dict_key(pid)).to_have_count(1)
    expect(dash.cell(pid, "PID")).to_have_text(pid)
    expect(dash.cell(pid, "State")).to_have_text("running")
    expect(dash.page.locator("#worker-counts")).to_have_text("1 running · 0 ended")
    expect(dash.page.locator("#no-workers")).to_be_hidden()
    assert clean_server.workers()[int(pid)]["state"] == "running"


# -- 2. kill -------------------------------------------------------------------------------
def test_kill_and_force_stop_buttons_end_the_worker_with_sigterm_and_sigkill(clean_server, open_page):
    dash = open_page(clean_server.url)

    gentle = dash.spawn()
    expect(dash.cell(gentle, "State")).to_have_text("running")
    dash.kill_button(gentle).click()
    expect(dash.cell(gentle, "State")).to_have_text("killed")
    expect(dash.cell(gentle, "Exit")).to_have_text("SIGTERM")
    expect(dash.kill_button(gentle)).to_have_count(0)  # nothing left to kill
    expect(dash.force_button(gentle)).to_have_count(0)

    forced = dash.spawn()
    expect(dash.cell(forced, "State")).to_have_text("running")
    dash.force_button(forced).click()
    expect(dash.cell(forced, "State")).to_have_text("killed")
    expect(dash.cell(forced, "Exit")).to_have_text("SIGKILL")

    expect(dash.page.locator("#worker-counts")).to_have_text("0 running · 2 ended")
    workers = clean_server.workers()
    assert (workers[int(gentle)]["state"], workers[int(gentle)]["signal"]) == ("killed", "SIGTERM")
    assert (workers[int(forced)]["state"], workers[int(forced)]["signal"]) == ("killed", "SIGKILL")


# -- 3. two pages --------------------------------------------------------------------------
def test_two_pages_stay_in_sync_through_spawn_kill_and_reset(clean_server, open_page):
    a = open_page(clean_server.url)
    b = open_page(clean_server.url)

    pid = a.spawn()
    expect(b.list_value(pid)).to_have_count(1)
    expect(b.dict_key(pid)).to_have_count(1)
    expect(b.cell(pid, "State")).to_have_text("running")

    b.kill_button(pid).click()  # a command from the other page shows in the first
    expect(a.cell(pid, "State")).to_have_text("killed")

    a.page.get_by_role("button", name="Reset state").click()
    for dash in (a, b):
        expect(dash.page.locator("#list-count")).to_have_text("0 items")
        expect(dash.page.locator("#dict-count")).to_have_text("0 keys")
        expect(dash.page.locator("#shared-list .vrow:visible")).to_have_count(0)
        expect(dash.page.locator("#shared-dict .vrow:visible")).to_have_count(0)
        expect(dash.page.locator("#list-empty")).to_be_visible()
        expect(dash.row(pid)).to_be_visible()  # resetting the state keeps the worker table
    assert clean_server.state()["list"] == []


# -- 4. server restart ---------------------------------------------------------------------
def test_page_reconnects_by_itself_after_the_server_restarts(browser):
    port = free_port()
    first = LiveServer(port=port)
    second = None
    context = browser.new_context(viewport=DESKTOP)
    try:
        context.set_default_timeout(TIMEOUT)
        dash = Dashboard(context.new_page(), first.url)
        dash.open()
        old_pid = first.spawn_pids()[0]
        expect(dash.list_value(old_pid)).to_have_count(1)
        expect(dash.banner).to_be_hidden()

        first.stop()
        expect(dash.connection).not_to_have_text("Live")
        expect(dash.banner).to_be_visible()
        expect(dash.banner).to_have_text(re.compile(r"Lost the connection|Cannot reach the server"))

        second = LiveServer(port=port)
        expect(dash.connection).to_have_text("Live", timeout=RECONNECT_TIMEOUT)
        expect(dash.banner).to_be_hidden()
        manager_pid = second.call("GET", "/healthz")["manager_pid"]
        expect(dash.page.locator("#manager-info")).to_have_text(f"Manager PID {manager_pid}")
        expect(dash.row(old_pid)).to_have_count(0)  # the old server's workers are gone from view
        expect(dash.list_value(old_pid)).to_have_count(0)

        new_pid = second.spawn_pids()[0]
        expect(dash.list_value(new_pid)).to_have_count(1)
        expect(dash.cell(new_pid, "State")).to_have_text("running")
        expect(dash.page.locator("#list-count")).to_have_text("1 item")
        # Only uncaught exceptions count here: a refused websocket logs console errors by design.
        assert not [e for e in dash.errors if e.startswith("uncaught")], dash.errors
    finally:
        context.close()
        first.stop()  # returns at once if it already stopped
        if second is not None:
            second.stop()


# -- 6. layout -----------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390x800", "1280x800"])
def test_spawn_and_kill_are_usable_on_a_phone_and_a_desktop(clean_server, open_page, viewport):
    dash = open_page(clean_server.url, viewport=viewport)
    page = dash.page
    spawn = page.get_by_role("button", name="Spawn")
    expect(spawn).to_be_visible()
    expect(spawn).to_be_enabled()
    expect(page.locator("#workers")).to_be_visible()

    pid = dash.spawn()
    expect(dash.cell(pid, "State")).to_have_text("running")
    kill = dash.kill_button(pid)
    box = scrolled_box(kill)
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (box, viewport)
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (box, viewport)
    kill.click()
    expect(dash.cell(pid, "State")).to_have_text("killed")

    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= viewport["width"], f"the page scrolls sideways: {page_width}px wide"


def test_dark_color_scheme_renders_a_dark_page_and_light_a_light_one(clean_server, open_page):
    background = "getComputedStyle(document.body).backgroundColor"
    dark = open_page(clean_server.url, color_scheme="dark")
    light = open_page(clean_server.url, color_scheme="light")
    dark_bg, light_bg = dark.page.evaluate(background), light.page.evaluate(background)
    assert luminance(dark_bg) < 0.15, dark_bg
    assert luminance(light_bg) > 0.85, light_bg
    text = "getComputedStyle(document.body).color"
    assert luminance(dark.page.evaluate(text)) > 0.6  # and its text is light


# -- 7. no JavaScript errors while using every control ---------------------------------------
def test_using_every_control_shows_no_javascript_error(clean_server, open_page):
    dash = open_page(clean_server.url)
    page = dash.page
    task = page.locator("#spawn-task")
    expect(task.locator("option")).not_to_have_count(1)  # the task list came from /api/tasks
    for name in task.locator("option").all_inner_texts():
        task.select_option(name)
        expect(page.locator("#task-help")).not_to_be_empty()

    task.select_option("crash")
    page.locator("#spawn-params input[name=seconds]").fill("0")
    crashed = dash.spawn()
    expect(dash.cell(crashed, "State")).to_have_text("exited")
    expect(dash.cell(crashed, "Exit")).to_have_text("code 1")
    traceback = dash.row(crashed).get_by_role("button", name=f"Traceback of {crashed}")
    traceback.click()
    expect(page.locator("#workers .error-text")).to_contain_text("RuntimeError")
    traceback.click()
    expect(page.locator("#workers .error-text")).to_have_count(0)

    task.select_option("append_pid")
    page.locator("#spawn-count").fill("2")
    page.get_by_role("button", name="Spawn").click()
    expect(page.locator("#worker-counts")).to_have_text("2 running · 1 ended")
    page.get_by_role("button", name="Kill all").click()
    expect(page.locator("#worker-counts")).to_have_text("0 running · 3 ended")
    page.get_by_role("button", name="Clear ended").click()
    expect(dash.rows).to_have_count(0)
    expect(page.locator("#no-workers")).to_be_visible()
    page.get_by_role("button", name="Reset state").click()
    expect(page.locator("#list-count")).to_have_text("0 items")
    # open_page's teardown fails the test if any of this raised or logged an error


# -- big messages ------------------------------------------------------------------------
def test_a_snapshot_of_thousands_of_entries_reaches_the_page_whole(clean_server, open_page):
    """A snapshot over 64 KiB is framed by the server itself, not by wsproto (serving.py):
    Chromium must take it as a valid frame, and the page show every entry."""
    clean_server.spawn(1, "burst", n=6000, keys=6000, target="dict")
    clean_server.wait_idle()
    assert len(clean_server.request("GET", "/api/state").content) > 128 * 1024  # past DIRECT_FRAME_BYTES
    dash = open_page(clean_server.url)
    expect(dash.page.locator("#dict-count")).to_have_text("6000 keys")
    expect(dash.connection).to_have_text("Live")
