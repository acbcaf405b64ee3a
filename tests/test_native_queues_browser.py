"""The panel of a program's own mp.Queue on the run page, at 1280 and 390 px: a consumer blocked in
get() on a Queue whose only producer died (examples/stuck/producer_died.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import assert_fits, pages_at
from playwright.sync_api import Browser, expect
from run_support import processes

from testkit.waiting import wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)


def stuck_queue(api) -> dict | None:
    return next(
        (
            o
            for o in api.state()["objects"].values()
            if o["kind"] == "Queue"
            and o["origin"] == "native"
            and o["value"]["blocked"]
            and o["value"]["got"] == 3
        ),
        None,
    )


@pytest.mark.parametrize("run_server", [("stuck/producer_died.py",)], indirect=True)
def test_a_consumer_blocked_on_a_queue_whose_producer_died(
    run_server, run_api, browser: Browser, tmp_path: Path
):
    queue = wait_for(lambda: stuck_queue(run_api), 20, "the parent blocked in get() after 3 items")
    value = queue["value"]
    main = next(p for p in processes(run_api).values() if p["role"] == "main")
    producer = wait_for(
        lambda: next(
            (p for p in processes(run_api).values() if p["name"] == "Process-1" and p["ended_at"]), None
        ),
        20,
        "the producer ended",
    )
    assert queue["label"].startswith("results = mp.Queue()  · producer_died.py:")
    assert [b["pid"] for b in value["blocked"]] == [main["pid"]] and value["blocked"][0]["call"] == "get"
    assert (value["put"], value["got"], value["depth"]) == (3, 3, 0)
    assert value["by"][str(producer["pid"])] == {"put": 3, "got": 0}
    assert [i["repr"] for i in value["items"]] == [f"('result', {i})" for i in range(3)]
    assert producer["state"] == "exited" and "the producer failed" in run_server.output()
    for width, page in pages_at(browser, run_server.page_url):
        panel = page.locator('section.object-panel[data-kind="Queue"]')
        expect(panel).to_contain_text("results = mp.Queue()")
        expect(panel.locator(".obj-line.blocked")).to_contain_text(f"PID {main['pid']}")
        expect(panel.locator(".obj-line.blocked")).to_contain_text("get()")
        expect(panel.locator(".obj-line.depth")).to_contain_text("0 (put 3, got 3)")
        expect(panel.locator(".obj-line.by")).to_contain_text("3 put · 0 got")
        expect(panel).to_contain_text("('result', 2)")
        assert_fits(panel, width)
        panel.screenshot(path=str(tmp_path / f"native-queue-{width}.png"))
