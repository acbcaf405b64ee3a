"""joblib's workers on the Pool timeline at 1280 px (issue 22): a row per loky worker, a bar per batch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import browser  # noqa: F401 -- fixture
from playwright.sync_api import Browser, expect
from run_support import RunServer, pool_tasks, wait_program
from support import Api, wait_for
from test_run_joblib import NEEDS_JOBLIB

pytestmark = [NEEDS_JOBLIB, pytest.mark.browser, pytest.mark.timeout(120)]
expect.set_options(timeout=20_000)


def test_joblib_tasks_are_bars_on_the_pool_timeline(tmp_path: Path, browser: Browser):  # noqa: F811
    srv = RunServer(tmp_path, "joblib_parallel.py", "0.05")
    api = Api(srv)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        wait_program(api, timeout=60)
        tasks = wait_for(
            lambda: (t := pool_tasks(api)) and sum(x["items"] for x in t if x["ended_at"]) == 10 and t,
            30,
            "joblib's 10 calls done",
        )
        workers = {w["pid"] for w in api.state()["workers"] if w["role"] == "pool"}
        page.goto(srv.page_url)
        expect(page.locator("#connection")).to_have_text("Live")
        timeline = page.locator("#pool-timeline")
        expect(timeline).to_be_visible()
        # one row per worker, named by its pool (loky's, made on the program's line) and PID
        labels = timeline.locator("text.tl-label")
        expect(labels.filter(has_text=re.compile(r"loky-\d+ "))).to_have_count(len(workers))
        for pid in workers:
            expect(labels.filter(has_text=str(pid))).to_have_count(1)
        bars = timeline.locator("rect.tl-bar > title")
        expect(bars).to_have_count(len(tasks))
        assert all("slow_square" in tip for tip in bars.all_text_contents())
        timeline.screenshot(path=str(tmp_path / "joblib-timeline.png"))
        page.screenshot(path=str(tmp_path / "joblib-page.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
        api.close()
        srv.stop()
