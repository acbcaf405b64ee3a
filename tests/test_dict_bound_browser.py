"""A shared dict past ``--max-entries`` on the page (issue 21, security 6): its panel counts the
entries kept and says how many more the program's dict holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from run_support import RunServer, wait_program, write
from support import Api, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

PROGRAM = """
import multiprocessing as mp

if __name__ == "__main__":
    with mp.Manager() as m:
        d = m.dict()
        d.update([(i, i) for i in range(2000)])
        print("len", len(d))
"""


def test_the_dict_panel_says_how_many_entries_were_not_kept(browser: Browser, tmp_path: Path):
    srv = RunServer(tmp_path, str(write(tmp_path, PROGRAM)), flags=("--max-entries", "300"))
    api = Api(srv)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        wait_program(api)
        wait_for(
            lambda: any(o.get("truncated") == 1700 for o in api.state()["objects"].values()),
            30,
            "the dict's 1,700 entries not kept to be counted",
        )
        errors: list[str] = []
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(srv.page_url)
        expect(page.locator("#connection")).to_have_text("Live")
        count = page.locator('section[data-kind="dict"] .count')
        expect(count).to_contain_text("300 keys (1,700 more not kept: --max-entries)")
        assert not errors, errors
    finally:
        context.close()
        api.close()
        srv.stop()
