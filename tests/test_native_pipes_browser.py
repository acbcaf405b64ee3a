"""The panel of a program's own mp.Pipe on the run page, at 1280 and 390 px: a forked reader that
never closed its copy of the write end waits in recv() for ever (examples/stuck/pipe_unclosed_end.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import assert_fits, pages_at
from playwright.sync_api import Browser, expect
from run_support import processes

from testkit.waiting import wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)


@pytest.mark.parametrize("run_server", [("stuck/pipe_unclosed_end.py",)], indirect=True)
def test_the_pipe_panel_shows_who_holds_each_end(run_server, run_api, browser: Browser, tmp_path: Path):
    wait_for(
        lambda: any(
            d["kind"] == "unclosed_pipe_end" for d in run_api.get_json("/api/diagnoses")["diagnoses"]
        ),
        20,
        "the diagnosis",
    )
    by_role = {p["role"]: p["pid"] for p in processes(run_api).values()}
    parent, reader = by_role["main"], by_role["process"]
    for width, page in pages_at(browser, run_server.page_url):
        panel = page.locator('section.object-panel[data-kind="Pipe"]')
        expect(panel).to_contain_text("r, w = ctx.Pipe(duplex=False)")
        expect(panel.locator(".kind-badge")).to_have_text("Pipe")
        write_end = panel.locator('.obj-line.pipe-end[data-end="w"]')
        expect(write_end).to_contain_text(f"PID {reader}")
        expect(write_end).not_to_contain_text(f"PID {parent}")  # the parent closed it
        read_end = panel.locator('.obj-line.pipe-end[data-end="r"]')
        expect(read_end).to_contain_text(f"PID {parent}")
        expect(read_end).to_contain_text(f"PID {reader}")
        expect(panel.locator(".obj-line.blocked")).to_contain_text(f"PID {reader}")
        expect(panel.locator(".obj-line.blocked")).to_contain_text("recv()")
        expect(panel.locator(".obj-line.by")).to_contain_text("3 sent · 0 received")
        expect(panel.locator(".obj-line.by")).to_contain_text("0 sent · 3 received")
        expect(page.locator(f'#workers tr[data-pid="{reader}"] .wait-line')).to_contain_text("recv() on r")
        banner = page.locator('#diagnoses .diagnosis[data-kind="unclosed_pipe_end"]')
        expect(banner).to_contain_text("never comes")
        expect(banner.get_by_role("link", name="programming guidelines")).to_be_visible()
        assert_fits(panel, width)
        panel.screenshot(path=str(tmp_path / f"native-pipe-{width}.png"))
        page.screenshot(path=str(tmp_path / f"native-pipe-page-{width}.png"), full_page=True)
