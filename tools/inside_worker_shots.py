"""Take the screenshots for docs/inside-a-worker.md from a real server and real workers.

Run: .venv/bin/python tools/inside_worker_shots.py  (needs /usr/bin/chromium)
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def start_server() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"http://[\d.]+:\d+", line)
        if found:
            return proc, found.group(0)
    proc.kill()
    raise SystemExit("server did not start")


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    proc, base = start_server()
    try:
        spawn = lambda body: requests.post(f"{base}/api/workers", json=body, timeout=10).json()["workers"]  # noqa: E731
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
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
            expect(page.locator(f'tr[data-lock="counter"]')).to_contain_text(str(holder["pid"]))
            page.locator(".output-panel").screenshot(path=IMG / "output-log.png")
            page.locator(".locks-panel").screenshot(path=IMG / "locks.png")
            page.locator(".workers-panel").screenshot(path=IMG / "workers-waiting.png")
            page.get_by_role("button", name=f"Stack of {sleeper['pid']}").click()
            expect(page.locator(".frame.task")).to_contain_text("time.sleep(seconds)")
            page.locator("#inspector").screenshot(path=IMG / "stack.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    main()
