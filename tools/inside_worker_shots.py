"""Take the screenshots for docs/inside-a-worker.md from a real server and real workers.

Run: .venv/bin/python tools/inside_worker_shots.py  (needs /usr/bin/chromium)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for testkit, when run as a script

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from testkit.browser import launch_chromium  # noqa: E402
from testkit.server import Server  # noqa: E402

IMG = ROOT / "docs" / "img"


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    server = Server()
    base = server.url
    try:

        def spawn(body: dict) -> list[dict]:
            return server.call("POST", "/api/workers", body)["workers"]

        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base)
            expect(page.locator("#connection")).to_contain_text("Live")
            spawn({"task": "printer", "params": {"lines": 30, "interval": 0.02, "stream": "both"}})
            holder = spawn({"task": "hold_lock", "params": {"lock": "counter", "seconds": 60}})[0]
            spawn({"task": "counter", "params": {"lock": True, "n": 10}})
            spawn({"task": "deadlock", "params": {"first": "a", "second": "b"}})
            spawn({"task": "deadlock", "params": {"first": "b", "second": "a"}})
            sleeper = spawn({"task": "sleep", "params": {"seconds": 60}})[0]
            expect(page.locator("#output-log")).to_contain_text("line 30 from")
            expect(page.locator("#deadlocks")).to_contain_text("Deadlock")
            expect(page.locator('tr[data-lock="counter"]')).to_contain_text(str(holder["pid"]))
            page.locator(".output-panel").screenshot(path=IMG / "output-log.png")
            page.locator(".locks-panel").screenshot(path=IMG / "locks.png")
            page.locator(".workers-panel").screenshot(path=IMG / "workers-waiting.png")
            page.get_by_role("button", name=f"Stack of {sleeper['pid']}").click()
            expect(page.locator(".frame.task")).to_contain_text("time.sleep(seconds)")
            page.locator("#inspector").screenshot(path=IMG / "stack.png")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
