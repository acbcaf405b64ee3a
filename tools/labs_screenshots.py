"""Retake docs/img/labs-<name>.png: run every lab with the page's defaults in headless Chromium.

    .venv/bin/python tools/labs_screenshots.py

Starts its own server (and stops it, checking nothing is left behind). Needs /usr/bin/chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for testkit, when run as a script

from playwright.sync_api import sync_playwright  # noqa: E402

from testkit.browser import launch_chromium  # noqa: E402
from testkit.server import Server  # noqa: E402

IMG = ROOT / "docs" / "img"
LABS = ["process", "threads", "parent", "queues", "pipe", "manager", "lock", "pool", "gil"]
FINISHED = ", ".join(f".run-status.status-{s}" for s in ("done", "failed", "timeout", "stopped"))


def shoot(browser, url: str, lab: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/labs#{lab}")
    page.wait_for_selector("#lab-params input, #lab-params select")
    page.wait_for_selector(".conn-live")
    page.click("#run-button")
    page.wait_for_selector(FINISHED, timeout=60_000)
    page.wait_for_timeout(200)  # let the last frame paint
    top = page.locator(".lab-controls").bounding_box()["y"]
    result = page.locator(".lab-result").bounding_box()
    timeline = page.locator(".lab-timeline").bounding_box()
    bottom = max(result["y"] + result["height"], timeline["y"] + timeline["height"])
    page.screenshot(
        path=str(IMG / f"labs-{lab}.png"),
        full_page=True,
        clip={"x": 0, "y": top - 8, "width": 1400, "height": bottom - top + 16},
    )
    page.close()
    print(f"wrote docs/img/labs-{lab}.png")


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    server = Server()
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for lab in sys.argv[1:] or LABS:
                shoot(browser, server.url, lab)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
