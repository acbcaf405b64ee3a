"""The panel of a program's own mp.Condition on the run page, at 1280 and 390 px: held by the main
process (depth 2), one child in wait(), one waiting to acquire it (tests/programs/condition_held.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import assert_fits, pages_at
from playwright.sync_api import Browser, expect
from run_support import named

from testkit.waiting import wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)
PROGRAM = str(Path(__file__).parent / "programs" / "condition_held.py")


@pytest.mark.parametrize("run_server", [(PROGRAM,)], indirect=True)
def test_the_condition_panel_shows_its_holder_and_waiters(
    run_server, run_api, browser: Browser, tmp_path: Path
):
    names = named(run_api, "waiter", "taker")
    main = run_api.state()["program"]["pid"]
    wait_for(
        lambda: any(
            o["kind"] == "Condition" and len(o["value"]["waiters"]) == 2 and o["value"]["holders"]
            for o in run_api.state()["objects"].values()
        ),
        20,
        "the Condition held, two waiting",
    )
    for width, page in pages_at(browser, run_server.page_url):
        panel = page.locator('section.object-panel[data-kind="Condition"]')
        expect(panel).to_contain_text("cond = mp.Condition()")
        expect(panel.locator(".kind-badge")).to_have_text("Condition")
        expect(panel.locator(".obj-line.holders")).to_contain_text(f"PID {main}")
        expect(panel.locator(".obj-line.holders")).to_contain_text("depth 2")
        waiters = panel.locator(".obj-line.waiters")
        expect(waiters).to_contain_text(f"PID {names['waiter']}")
        expect(waiters).to_contain_text(f"PID {names['taker']}")
        expect(page.locator(f'#workers tr[data-pid="{names["waiter"]}"]')).to_contain_text("wait()")
        assert_fits(panel, width)
        panel.screenshot(path=str(tmp_path / f"native-condition-{width}.png"))
