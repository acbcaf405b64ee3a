"""Take the README's `mpscope run` screenshot: docs/img/run.png.

Runs ``mpscope run examples/pool_callbacks.py 1`` (the tutorial's Pool with callbacks, one
second a task), waits until the page shows the first Pool's ten tasks done and the second
Pool's failure, shoots the whole page at 1280 px wide, then stops mpscope (checking that
nothing of the program is left behind).

    .venv/bin/python tools/run_screenshot.py [--out docs/img/run.png]

Needs the system Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # testkit, and the tests' run support

from browser_support import CHROMIUM, launch_chromium  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402
from run_support import RunServer  # noqa: E402


def shoot(program: list[str], out: Path, ready: Callable[[Page], None], tool: str) -> int:
    """Run ``mpscope run PROGRAM``, wait until ``ready(page)`` passes, shoot the page at 1280 px."""
    if not Path(CHROMIUM).exists():
        print(f"{tool}: {CHROMIUM} is not installed", file=sys.stderr)
        return 2
    expect.set_options(timeout=30_000)
    with tempfile.TemporaryDirectory(prefix="mpscope-shot-") as tmp:
        server = RunServer(Path(tmp), *program)
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(server.page_url)
                ready(page)
                page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top
                page.screenshot(path=str(out), full_page=True)
                browser.close()
        finally:
            server.stop()
    print(f"wrote {out.resolve()}")
    return 0


def pool_done(page: Page) -> None:
    expect(page.locator("#pool-counts")).to_contain_text("14 done · 1 failed")
    expect(page.locator("#program-state")).to_have_text("exited")
    page.locator("#pool-failures details").first.click()  # open the failure's traceback


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "run.png")
    args = parser.parse_args(argv)
    return shoot(["pool_callbacks.py", "1"], args.out, pool_done, "run_screenshot")


if __name__ == "__main__":
    sys.exit(main())
