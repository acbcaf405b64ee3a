"""Take the README's dashboard screenshots: docs/img/dashboard.png and docs/img/dashboard-dark.png.

Starts its own mpscope server, opens the page in the light and the dark colour scheme,
spawns three ``append_pid`` workers (one a second, so the chart shows the list growing), one
``crash`` worker and three unlocked ``counter`` workers (their lost updates show above the
dict), waits until both pages show them, shoots each 1280x900 window, then
stops the server (checking that no process is left behind).

    .venv/bin/python tools/screenshot.py [--out-dir docs/img] [--full-page]

Needs the system Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for testkit, when run as a script

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from testkit.browser import CHROMIUM, have_chromium, launch_chromium  # noqa: E402
from testkit.server import Server  # noqa: E402

VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT = 15_000  # ms


def dict_entry(page: Page, pid: int):
    """The shared-dict row whose key is ``pid``."""
    return page.locator("#shared-dict .vrow:visible").filter(has_text=re.compile(rf"^{pid}\s*:"))


def wait_for_ticks(pages: list[Page], pid: int, ticks: int) -> None:
    for page in pages:
        expect(dict_entry(page, pid)).to_contain_text(f"'ticks': {ticks}}}")


def wait_for_states(pages: list[Page], states: dict[int, str]) -> None:
    for page in pages:
        for pid, state in states.items():
            expect(page.locator(f'#workers tr[data-pid="{pid}"] .badge')).to_have_text(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--full-page", action="store_true", help="shoot the whole page, not one window")
    args = parser.parse_args(argv)
    if not have_chromium():
        print(f"screenshot: {CHROMIUM} is not installed", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=TIMEOUT)

    server = Server()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                shots = {}
                for scheme, name in (("light", "dashboard.png"), ("dark", "dashboard-dark.png")):
                    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
                    context.set_default_timeout(TIMEOUT)
                    page = context.new_page()
                    page.goto(server.url)
                    expect(page.locator("#connection")).to_have_text("Live")
                    shots[name] = page
                pages = list(shots.values())
                # The pages are open first so their charts see the list grow: one worker a tick.
                running = []
                for _ in range(3):
                    running += server.spawn_pids(1, "append_pid")
                    wait_for_ticks(pages, running[-1], 1)
                crashed = server.spawn_pids(1, "crash")[0]
                counters = server.spawn_pids(3, "counter", n=1000)
                ended = dict.fromkeys([crashed, *counters], "exited")
                wait_for_states(pages, {**dict.fromkeys(running, "running"), **ended})
                for page in pages:
                    expect(page.locator("#counter-check")).to_contain_text("3 workers × 1,000")
                wait_for_ticks(pages, running[-1], 2)
                for name, page in shots.items():
                    path = args.out_dir / name
                    page.screenshot(path=path, full_page=args.full_page, animations="disabled")
                    print(f"wrote {path}")
            finally:
                browser.close()  # closes the contexts too
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
