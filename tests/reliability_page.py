"""The browser side of the reliability and security tests: the session's Chromium and a Page.

:class:`Page` opens the dashboard in a fresh context and records JS errors, dialogs and
Content-Security-Policy violations, for tests that assert the page stayed clean.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(name="chromium")
def chromium_fixture(browser: Any) -> Any:
    """The session's one headless Chromium (browser_support's ``browser``, registered in conftest):
    two sync Playwright instances cannot run in one process."""
    return browser


class Page:
    """A dashboard page in a fresh context that records JS errors, dialogs and CSP violations."""

    def __init__(self, chromium: Any, url: str) -> None:
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " (e) => window.__violations.push(e.violatedDirective));"
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        self.page.goto(url)

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__violations")

    def close(self) -> None:
        self.context.close()
