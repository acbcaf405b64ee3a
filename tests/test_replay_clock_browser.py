"""Replay clocks count from the recording's position (issue 22): under ``mpscope open``, the page's
uptimes, "ran N s" and a running task's "so far" are measured to the slider's moment, not to the
browser's wall clock (which is many seconds past the whole recorded run by then)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser_support import browser  # noqa: F401 -- fixture
from playwright.sync_api import Browser, expect
from run_support import run_to_end, write
from support import Api, LiveClient

from testkit.server import Server
from testkit.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
expect.set_options(timeout=20_000)

PROGRAM = """
import multiprocessing as mp
import time

def nap(seconds):
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    with mp.Pool(1) as pool:
        time.sleep(0.3)
        pool.apply(nap, (2,))
    print("done")
"""


AT = 1.2  # seconds into the run: main has been seen waiting (from ~0.7 s) and the task runs (0.3-2.3 s)


def seconds(text: str) -> float:
    """``2.0 s`` (formatDuration's form under a minute) as a number."""
    found = re.search(r"(\d+(?:\.\d+)?) s", text)
    assert found, text
    return float(found.group(1))


def test_times_on_the_page_are_measured_to_the_replay_position(tmp_path: Path, browser: Browser):  # noqa: F811
    path = tmp_path / "run.sqlite"
    done = run_to_end("--record", str(path), str(write(tmp_path, PROGRAM)))
    assert done.returncode == 0, done.stderr
    opened = Server(tmp_path / "open", str(path), subcommand=("open",), max_workers=None)
    api = Api(opened)
    client = LiveClient(opened)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        program = api.get_json("/api/state")["program"]
        at = program["started_at"] + AT
        assert client.call("replay_seek", {"t": at})["status"] == 200
        assert time.time() - at > 1  # the wall clock is well past the position (the run ended since)
        state = api.get_json("/api/state")
        assert state["program"]["state"] == "running" and state["replay"]["position"] == at
        main = state["program"]["pid"]
        (worker,) = [w for w in state["workers"] if w["role"] == "pool"]
        (task,) = api.get_json("/api/pool-tasks")["tasks"]
        assert task["state"] == "running"
        page.goto(opened.page_url)
        wait_for(lambda: "/" in page.locator("#replay-time").inner_text(), 10, what="the slider's status")
        uptime = page.locator(f"#workers tr[data-pid='{main}'] td").nth(4)
        expect(uptime).to_have_text(re.compile(r"^\d+\.\d s$"))
        assert abs(seconds(uptime.inner_text()) - AT) <= 0.11
        worker_uptime = page.locator(f"#workers tr[data-pid='{worker['pid']}'] td").nth(4)
        assert abs(seconds(worker_uptime.inner_text()) - (at - worker["started_at"])) <= 0.11
        assert abs(seconds(page.locator("#program-times").inner_text()) - AT) <= 0.11
        # what the main process waits on (apply() on the pool), and for how long at the position
        since = next(w for w in state["workers"] if w["pid"] == main)["waiting"]["since"]
        title = page.locator(f"#workers tr[data-pid='{main}'] .wait-line").get_attribute("title")
        assert abs(float(re.search(r"for ([\d.]+) s", title).group(1)) - (at - since)) <= 0.11, title
        # the running task's bar: how long it has run so far, at the position
        tip = page.locator("#pool-timeline rect.tl-bar > title").first.text_content()
        so_far = float(re.search(r"([\d.]+)s so far", tip).group(1))
        assert abs(so_far - (at - task["started_at"])) <= 0.11, tip
        page.screenshot(path=str(tmp_path / f"replay-at-{AT:g}s.png"), full_page=True)
    finally:
        page.close()
        client.close()
        api.close()
        opened.stop()
