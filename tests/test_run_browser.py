"""``mpscope run`` in the browser: the program panel, the program's processes and the Pool timeline."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from browser_support import checked_page
from playwright.sync_api import Browser, expect
from run_support import RunServer
from support import Api

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

WAITING_POOL = textwrap.dedent(
    """
    import multiprocessing as mp, os, time

    def work(i):
        time.sleep(0.05)
        return i

    if __name__ == "__main__":
        with mp.Pool(2) as pool:
            for i in range(6):
                pool.apply_async(work, (i,), callback=print)
            time.sleep(600)
    """
)


def test_the_program_panel_stops_and_runs_the_program_again(browser: Browser, tmp_path: Path):
    program = tmp_path / "waiting_pool.py"
    program.write_text(WAITING_POOL)
    srv = RunServer(tmp_path, str(program))
    api = Api(srv)
    try:
        with checked_page(browser, height=1000, console=False) as page:
            page.goto(srv.page_url)
            expect(page.locator("#connection")).to_have_text("Live")
            expect(page.locator("#spawn-form")).to_have_count(0)
            expect(page.locator("#program-argv")).to_have_text(f"python {program}")
            expect(page.locator("#program-state")).to_have_text("running")
            first_pid = api.state()["program"]["pid"]
            expect(page.locator(f'#workers tr[data-pid="{first_pid}"]')).to_contain_text("MainProcess")
            expect(page.locator("#workers tr", has_text="ForkPoolWorker-1")).to_contain_text("pool")
            expect(page.locator("#pool-counts")).to_contain_text("6 done")
            expect(page.locator("#pool-timeline rect.tl-bar.st-running")).to_have_count(6)
            expect(page.locator("#pool-timeline rect.tl-bar.st-waiting_lock")).to_have_count(6)  # callbacks

            page.get_by_role("button", name="Stop the program").click()
            expect(page.locator("#program-state")).to_have_text("killed")
            expect(page.locator("#program-exit")).to_have_text("killed by SIGTERM")
            # its workers end too: killed by us, or on their own when their task queue closed
            expect(page.locator("#workers tr.ended", has_text="ForkPoolWorker-1")).to_have_count(1)

            page.get_by_role("button", name="Run the program again").click()
            expect(page.locator("#program-state")).to_have_text("running")
            second_pid = api.state()["program"]["pid"]
            assert second_pid != first_pid
            expect(page.locator(f'#workers tr[data-pid="{second_pid}"]')).to_contain_text("main")
            expect(page.locator(f'#workers tr[data-pid="{first_pid}"]')).to_have_count(0)  # the last run's
    finally:
        api.close()
        srv.stop()
