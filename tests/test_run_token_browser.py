"""Issue 21, Security 2 and 3, in Chromium: the URL ``mpscope run`` prints opens a working page,
the token never becomes a cookie, and a page without the token shows nothing of the program.

The page keeps the token from the URL's fragment in sessionStorage (this port's only) and
sends it with each fetch (output, stack) and in its Socket.IO handshake (state, Stop); a
service on another port of the same host, visited in the same browser, is sent no cookie.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import OtherSite
from playwright.sync_api import Browser, expect
from run_support import watching
from test_run_token import PROGRAM, SECRET, seen_secret

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)


def test_the_printed_url_opens_the_page_and_no_other_port_is_sent_the_token(browser: Browser, tmp_path: Path):
    with watching(tmp_path, PROGRAM) as (srv, api):
        main = seen_secret(api)["pid"]
        printed = re.search(r"running at (\S+)", srv.out_path.read_text()).group(1)
        other = OtherSite(b"<!doctype html><title>other</title>")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        try:
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(printed)
            expect(page.locator("#connection")).to_have_text("Live")
            expect(page.locator("#objects")).to_contain_text(SECRET)  # the snapshot, over the socket
            assert page.url == f"{srv.url}/", "the token is taken out of the address bar"
            assert page.evaluate("sessionStorage.getItem('mpscope-token')") == srv.token
            # the fetches carry it: the process's output and its live stack
            page.get_by_role("button", name=f"Output of {main}").click()
            expect(page.locator("#inspector-output")).to_contain_text(f"printed {SECRET}")
            page.get_by_role("button", name="Close").click()
            page.get_by_role("button", name=f"Stack of {main}").click()
            expect(page.locator("#inspector-stack")).to_contain_text("time.sleep(600)")
            page.get_by_role("button", name="Close").click()
            # a reload keeps it (sessionStorage), and the commands go through the socket
            page.reload()
            expect(page.locator("#connection")).to_have_text("Live")
            expect(page.locator("#objects")).to_contain_text(SECRET)
            page.get_by_role("button", name="Stop the program").click()
            expect(page.locator("#program-state")).to_have_text("killed")

            # no cookie at all: another service on this host is sent nothing of ours
            assert context.cookies() == []
            page.goto(other.url)
            expect(page).to_have_title("other")
            assert other.seen and all("Cookie" not in headers for headers in other.seen), other.seen
            assert not errors, errors
        finally:
            context.close()
            other.close()


@pytest.mark.parametrize("fragment", ["", "#token=" + "x" * 32], ids=["no token", "a wrong token"])
def test_a_page_without_the_token_shows_nothing_and_says_how_to_get_in(
    browser: Browser, tmp_path: Path, fragment: str
):
    with watching(tmp_path, PROGRAM) as (srv, api):
        seen_secret(api)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(f"{srv.url}/{fragment}")
            expect(page.locator("#banner")).to_contain_text("needs its token")
            expect(page.locator("#connection")).to_have_text("No token")
            expect(page.locator("#program-stop")).to_have_count(0)  # no controls without it
            assert SECRET not in page.content()
            assert api.state()["program"]["state"] == "running"
        finally:
            context.close()
