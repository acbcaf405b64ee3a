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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_screenshot import REPO, Page, expect, shoot  # noqa: E402


def deadlock_named(page: Page) -> None:
    alert = page.locator("#deadlock-alert, #diagnoses").filter(has_text="wait")
    expect(alert.first).to_be_visible()
    expect(page.locator("#workers .wait-line").first).to_be_visible()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", default="stuck/lock_deadlock.py", help="under examples/")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "stuck.png")
    args = parser.parse_args(argv)
    return shoot([args.program], args.out, deadlock_named, "stuck_screenshot")


if __name__ == "__main__":
    sys.exit(main())
