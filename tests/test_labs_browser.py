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


def run_lab(chromium, server: LabServer, lab: str, **params: str):
    """The Labs page on ``lab`` with ``params`` filled in (``#param-NAME``), its run started."""
    page, errors = open_labs(chromium, server, lab)
    for name, value in params.items():
        page.fill(f"#param-{name}", value)
    page.click("#run-button")
    return page, errors


def test_running_a_lab_draws_its_timeline_and_output(chromium, lab_server: LabServer) -> None:
    page, errors = run_lab(chromium, lab_server, "process", processes="3", seconds="0.4")
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


def test_stopping_a_run_says_stopped_not_failed_or_done(chromium, lab_server: LabServer) -> None:
    page, errors = run_lab(chromium, lab_server, "process", seconds="8")
    page.locator(".tl-bar.st-sleeping").nth(3).wait_for(timeout=10000)
    page.click("#stop-button")
    page.wait_for_selector(".run-status.status-stopped", timeout=15000)
    assert page.inner_text("#run-status") == "stopped"
    assert page.inner_text("#takeaway").startswith("Stopped by you after ")
    assert "killed and reaped" in page.inner_text("#takeaway")
    lines = page.locator("#output .out-line .text").all_inner_texts()
    assert lines[-1] == "[mpscope] stopped by the user: killing the run's processes", lines
    assert not any("done in" in line for line in lines)
    assert not errors, errors
    page.close()


def test_a_run_past_its_time_limit_says_timed_out(chromium, lab_server: LabServer) -> None:
    page, errors = run_lab(chromium, lab_server, "process", seconds="8", time_limit="1")
    page.wait_for_selector(".run-status.status-timeout", timeout=15000)
    assert page.inner_text("#run-status") == "timed out"
    assert page.inner_text("#takeaway").startswith("Timed out after ")
    assert "the time limit of 1 s was reached" in page.inner_text("#takeaway")
    assert not errors, errors
    page.close()


def test_the_process_lab_draws_the_servers_join_as_blocked(chromium, lab_server: LabServer) -> None:
    page, errors = run_lab(chromium, lab_server, "process", seconds="0.3")
    page.wait_for_selector(FINISHED, timeout=20000)
    server_pid = page.inner_text("#server-pid").split()[-1]
    blocked = page.locator(".tl-bar.st-blocked title").all_text_contents()
    assert len([title for title in blocked if "p.join()" in title]) == 4, blocked
    first_row = page.locator(".tl-label").first.text_content()
    assert first_row.startswith(f"server {server_pid}")
    assert not errors, errors
    page.close()


def test_the_gil_lab_draws_waiting_threads_and_shows_field_limits(chromium, lab_server: LabServer) -> None:
    page, errors = open_labs(chromium, lab_server, "gil", width=1280)
    assert page.inner_text("#limits-work") == "1000–5000000"
    assert page.inner_text("#limits-io_seconds") == "0–2 s"
    assert page.inner_text("#limits-time_limit") == "1–60 s"
    work = page.locator("#param-work")
    work.fill("5000000")
    assert work.evaluate("input => input.scrollWidth <= input.clientWidth"), "5000000 does not fit its field"

    work.fill("99")  # below its limit: named by the field, and nothing runs
    page.click("#run-button")
    assert "'work' must be 1000–5000000" in page.inner_text("#form-error")
    assert "invalid" in page.locator("#limits-work").evaluate("note => note.parentElement.className")
    assert page.inner_text("#run-status") == ""

    # the default work: each thread's job is ~100 pieces, so its turns surely interleave with
    # the others' (with 300000 one CI run, on a loaded machine, drew no GIL wait at all)
    work.fill("1000000")
    page.click("#run-button")
    page.wait_for_selector(FINISHED, timeout=60000)
    assert page.inner_text("#run-status") == "done"
    assert page.locator(".tl-bar.st-waiting_gil").count() >= 1  # how many depends on the scheduler
    takeaway = page.inner_text("#takeaway")
    assert "CPUs usable here" in takeaway and "GIL" in takeaway
    # output lines and code lines have the room they need at 1280 px
    heights = page.locator("#output .out-line").evaluate_all("rows => rows.map((r) => r.offsetHeight)")
    assert max(heights) < 24, heights
    cut = page.locator(".lab-code pre").evaluate_all(
        "pres => pres.filter((p) => p.scrollWidth > p.clientWidth).length"
    )
    assert cut == 0, "code lines are cut at the right edge"
    assert not errors, errors
    page.close()
