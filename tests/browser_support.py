"""Browser-test fixtures: one shared headless Chromium, and a live server per test module.

``browser`` (one Chromium per session, shared by every module that imports it) and
``live_server`` (one server per test module) are pytest fixtures; import them into a test
module to use them. The server is :class:`testkit.server.Server` (``LiveServer`` here, as the
browser tests and tools have always called it); Chromium comes from :mod:`testkit.browser`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from testkit.browser import CHROMIUM, CHROMIUM_ARGS, have_chromium, launch_chromium  # noqa: F401
from testkit.server import Server as LiveServer
from testkit.waiting import wait_for

# Only for things outside the page (the server's log, processes, the REST API); anything the
# page shows is waited for with Playwright's ``expect``.
wait_until = wait_for


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_or_skip() -> None:
    """Skip when there is no system Chromium, unless REQUIRE_BROWSER=1 asks for a failure."""
    if have_chromium():
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM} does not exist")
    pytest.skip(f"{CHROMIUM} is not installed")


# -- fixtures -------------------------------------------------------------------------------
class _SharedChromium:
    """One Playwright driver and Chromium per process, however many modules import ``browser``.

    A fixture imported into several test modules is a separate definition in each, so a
    session-scoped ``browser`` would start once per module; and a second sync Playwright
    cannot start while the first runs. The fixtures therefore share this one, and the last
    to finish closes it.
    """

    def __init__(self) -> None:
        self.users = 0
        self.playwright: Any = None
        self.chromium: Any = None

    def acquire(self) -> Any:
        if self.chromium is None:
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            try:
                self.chromium = launch_chromium(playwright)
            except BaseException:
                playwright.stop()
                raise
            self.playwright = playwright
        self.users += 1
        return self.chromium

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            chromium, playwright = self.chromium, self.playwright
            self.chromium = self.playwright = None
            try:
                chromium.close()
            finally:
                playwright.stop()


_shared_chromium = _SharedChromium()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless system Chromium for the whole session (skips if it is not installed)."""
    chromium_or_skip()
    chromium = _shared_chromium.acquire()
    try:
        yield chromium
    finally:
        _shared_chromium.release()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One mpscope server (--max-workers 8) for a test module; stopped and checked at its end."""
    server = LiveServer(log_dir=tmp_path_factory.mktemp("live-server"))
    try:
        yield server
    finally:
        server.stop()


def pages_at(
    browser: Any, url: str, widths: tuple[int, ...] = (1280, 390), height: int = 900
) -> Iterator[tuple[int, Any]]:
    """``(width, page)`` with ``url`` open at each of ``widths``: a context each, closed after its turn."""
    for width in widths:
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.goto(url)
            yield width, page
        finally:
            context.close()


@contextlib.contextmanager
def checked_page(
    browser: Any, width: int = 1280, height: int = 900, *, console: bool = True, **options: Any
) -> Iterator[Any]:
    """A page in a browser context of its own (``width`` × ``height``, ``options`` for the context),
    closed on leaving; a block that ends normally must have left no uncaught exception on the page,
    nor, with ``console``, a console error."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        if console:
            page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
        yield page
    finally:
        context.close()
    assert not errors, errors


class OtherSite:
    """A second local HTTP server on another port (another origin) serving ``body`` as HTML;
    ``seen`` holds the headers of each request it was sent."""

    def __init__(self, body: bytes) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 -- http.server's name
                seen.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def assert_fits(panel: Any, width: int) -> None:
    """``panel`` (scrolled into view) and each of its ``.obj-line`` rows fit a page ``width`` px wide."""
    panel.scroll_into_view_if_needed()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box
    for line in panel.locator(".obj-line").all():
        inner = line.bounding_box()
        assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 1, (width, inner)
