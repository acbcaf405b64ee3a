"""The Labs page in headless Chromium: run a lab, see its timeline, output and takeaway.

The screenshots in docs/labs.md are retaken by ``tools/labs_screenshots.py``.
"""

from __future__ import annotations

import pytest
from labs_fixtures import LabServer, lab_server_fixture  # noqa: F401

pytestmark = pytest.mark.browser

FINISHED = ", ".join(f".run-status.status-{s}" for s in ("done", "failed", "timeout", "stopped"))


@pytest.fixture(name="chromium")
def chromium_fixture(browser):
    """The session's headless Chromium (from browser_support, registered in conftest)."""
    return browser


def open_labs(chromium, server: LabServer, lab: str, scheme: str = "light", width: int = 1400):
    page = chromium.new_page(viewport={"width": width, "height": 1000}, color_scheme=scheme)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server.url}/labs#{lab}")
    page.wait_for_selector("#lab-params input, #lab-params select")
    page.wait_for_selector(".conn-live")
    return page, errors


def test_running_a_lab_draws_its_timeline_and_output(chromium, lab_server: LabServer) -> None:
    page, errors = open_labs(chromium, lab_server, "process")
    page.fill("#param-processes", "3")
    page.fill("#param-seconds", "0.4")
    page.click("#run-button")
    # while it runs the timeline already has one row per process, drawn as events arrive
    page.locator(".tl-bar.st-sleeping").nth(2).wait_for(timeout=10000)
    page.wait_for_selector(FINISHED, timeout=20000)
    assert page.inner_text("#run-status") == "done"
    lines = page.locator("#output .out-line .text").all_inner_texts()
    assert sorted(t for t in lines if t.startswith("hello")) == ["hello msc0", "hello msc1", "hello msc2"]
    pids = set(page.locator("#output .out-line .pid").all_inner_texts())
    assert len(pids) == 4  # three children and the server's own line
    assert "not 1.2 s" in page.inner_text("#takeaway")
    assert "def run(name: str, seconds: float)" in page.inner_text("#code")
    assert not errors, errors
    page.close()


def test_bad_params_show_the_servers_message(chromium, lab_server: LabServer) -> None:
    page, errors = open_labs(chromium, lab_server, "pool")
    page.fill("#param-size", "99")
    page.locator("#param-size").evaluate("input => input.removeAttribute('max')")
    page.click("#run-button")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "'size'" in page.inner_text("#form-error")
    page.close()
