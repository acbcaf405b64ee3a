"""The one headless Chromium launcher: the system browser's path and arguments in one place."""

from __future__ import annotations

import os
from typing import Any

# Playwright's own browser download does not exist here; the system Chromium does.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def have_chromium() -> bool:
    """True if the system Chromium is installed."""
    return os.path.exists(CHROMIUM)


def launch_chromium(playwright: Any) -> Any:
    """Start the system Chromium headless from a (sync) Playwright instance."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
