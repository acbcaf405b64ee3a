"""Take the screenshot of docs/run.md's "Why is it stuck?": docs/img/stuck.png.

Runs ``mpscope run examples/stuck/lock_deadlock.py`` (two processes, two multiprocessing
locks taken in opposite orders), waits until the page names the deadlock and each row says
which lock it waits for, shoots the page at 1280 px wide, then stops mpscope (checking that
nothing of the program is left behind).

    .venv/bin/python tools/stuck_screenshot.py [--program stuck/queue_join.py] [--out PATH]

Needs the system Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # testkit, and the tests' run support

from browser_support import CHROMIUM, launch_chromium  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from run_support import RunServer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", default="stuck/lock_deadlock.py", help="under examples/")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "stuck.png")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"stuck_screenshot: {CHROMIUM} is not installed", file=sys.stderr)
        return 2
    expect.set_options(timeout=30_000)
    with tempfile.TemporaryDirectory(prefix="mpscope-shot-") as tmp:
        server = RunServer(Path(tmp), args.program)
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(server.url)
                alert = page.locator("#deadlock-alert, #diagnoses").filter(has_text="wait")
                expect(alert.first).to_be_visible()
                expect(page.locator("#workers .wait-line").first).to_be_visible()
                page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            server.stop()
    print(f"wrote {args.out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
