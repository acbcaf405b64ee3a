"""Let no one in, seen from a real headless Chromium: a page on another origin cannot drive the
dashboard, worker values are rendered as text under a strict CSP, and read-only users get no
controls."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from browser_support import OtherSite
from playwright.sync_api import expect
from reliability_page import Page, chromium_fixture  # noqa: F401 -- provides `chromium`
from reliability_support import servers_fixture  # noqa: F401 -- provides `servers`

from testkit.rest import LIVE
from testkit.server import Server
from testkit.waiting import wait_for

pytestmark = pytest.mark.browser

EVIL_PAGE = """<!doctype html><title>evil</title>
<form id="form" method="POST" action="DASH/api/workers" enctype="text/plain" target="sink">
<input name='{"task": "sleep", "x": "' value='"}'></form>
<iframe name="sink" id="sink"></iframe>
<script>
const target = "DASH";
window.results = {};
async function attempt(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "blocked: " + e.name; }
}
async function go() {
  const body = JSON.stringify({task: "sleep", params: {seconds: 30}});
  await attempt("json", async () => "status " + (await fetch(target + "/api/workers",
    {method: "POST", headers: {"Content-Type": "application/json"}, body})).status);
  await attempt("simple", async () => "sent " + (await fetch(target + "/api/workers",
    {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body})).type);
  await attempt("delete", async () => "status " + (await fetch(
    target + "/api/workers?state=running&signal=KILL", {method: "DELETE"})).status);
  await attempt("reset", async () => "sent " + (await fetch(target + "/api/state/reset",
    {method: "POST", mode: "no-cors"})).type);
  results.ws = await new Promise((resolve) => {
    const ws = new WebSocket(target.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket");
    ws.onopen = () => { ws.send("40"); ws.send('42["spawn",{"task":"sleep"}]'); resolve("open"); };
    ws.onerror = () => resolve("error");
  });
  document.getElementById("sink").onload = () => { results.form = "submitted"; document.title = "done"; };
  document.getElementById("form").submit();
}
go();
</script>"""


def test_a_page_on_another_origin_cannot_drive_the_dashboard(chromium, servers):
    srv: Server = servers(max_workers=4)
    srv.spawn(1, "burst", n=5, keys=5)  # some state that a reset would empty
    entries = wait_for(lambda: len((state := srv.wait_settled())["dict"]) == 5 and state["dict"], 10, "state")
    srv.request("DELETE", "/api/workers", params={"state": "ended"})
    victim = srv.spawn(1, "sleep", seconds=60)[0]["pid"]
    evil = OtherSite(EVIL_PAGE.replace("DASH", srv.url).encode())
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(evil.url)
        expect(page).to_have_title("done", timeout=15_000)
        results = page.evaluate("window.results")
    finally:
        context.close()
        evil.close()
    assert results["json"].startswith("blocked"), results  # no CORS: the preflight fails
    assert results["delete"].startswith("blocked"), results
    assert results["ws"] == "error", results  # the handshake is refused (Origin)
    workers = srv.workers()
    assert list(workers) == [victim], f"a cross-origin page changed the workers: {results} {workers}"
    assert workers[victim]["state"] in LIVE
    assert srv.log().count("spawned") == 2, "only the test's own workers were ever spawned"
    assert srv.state()["dict"] == entries, "a cross-origin page reset the state"


def test_worker_values_are_text_never_html_under_a_strict_csp(chromium, servers):
    srv: Server = servers(max_workers=4)
    live = Page(chromium, srv.url)  # open first: the values arrive as changes
    try:
        expect(live.page.locator("#connection")).to_have_text("Live")
        pid = srv.spawn(1, "odd_values")[0]["pid"]
        wait_for(lambda: srv.get_json(f"/api/workers/{pid}")["state"] == "exited", 15, "odd_values")
        late = Page(chromium, srv.url)  # and this one gets them in its snapshot
        try:
            for view in (live, late):
                panel = view.page.locator("#shared-dict")
                expect(panel).to_contain_text("'<img src=x onerror=alert(1)>'")
                expect(panel).to_contain_text("'<b>html key</b>'")
                expect(panel).to_contain_text("{1, 2, 3}")
                expect(panel).to_contain_text("b'\\x00\\xff'")
                expect(panel).to_contain_text(f"<Opaque from {pid}>")
                expect(panel).to_contain_text(re.compile(r"\bnan\b"))
                expect(panel).to_contain_text(re.compile(r"\binf\b"))
                expect(panel).to_contain_text("99900 more")
                assert panel.locator("img, b, script").count() == 0, "a value became HTML"
                assert view.page.locator("img[src=x]").count() == 0
                assert view.dialogs == [], view.dialogs
                assert view.errors == [], view.errors
                assert view.violations() == [], "the page itself breaks its CSP"
            # the policy is enforced: an inline script injected into the page does not run
            try:
                late.page.add_script_tag(content="window.__inline_ran = true;")
            except Exception:  # noqa: BLE001 -- Playwright reports the refused script as an error
                pass
            assert late.page.evaluate("window.__inline_ran") is None
            assert "script-src-elem" in late.violations() or "script-src" in late.violations()
        finally:
            late.close()
    finally:
        live.close()


def test_read_only_users_get_no_controls(chromium, servers):
    admin, viewer = "A" * 24, "V" * 24
    with ThreadPoolExecutor(1) as pool:  # the --read-only server starts meanwhile
        starting = pool.submit(servers, "--read-only")
        srv: Server = servers("--viewer-token", viewer, token=admin)
        ro: Server = starting.result()
    pid = srv.spawn(1, "sleep", seconds=60)[0]["pid"]
    for token, controls in ((viewer, False), (admin, True)):
        view = Page(chromium, f"{srv.url}/?token={token}")
        try:
            row = view.page.locator(f'#workers tbody tr[data-pid="{pid}"]')
            expect(row).to_be_visible()
            expect(row.get_by_role("button", name="Output")).to_be_visible()
            count = 1 if controls else 0
            expect(view.page.locator("#spawn-form")).to_have_count(count)
            expect(view.page.locator("#kill-all")).to_have_count(count)
            expect(row.get_by_role("button", name="Kill")).to_have_count(count)
            if not controls:
                expect(view.page.locator(".readonly-note")).to_be_visible()
            assert view.errors == [], view.errors
        finally:
            view.close()
    view = Page(chromium, ro.url)
    try:
        expect(view.page.locator(".readonly-note")).to_be_visible()
        expect(view.page.locator("#spawn-form")).to_have_count(0)
        expect(view.page.locator("#connection")).to_have_text("Live")
    finally:
        view.close()


def test_a_login_link_cannot_set_cookies_or_lead_the_browser_off_site(chromium, servers):
    """Issue 12 item 1, in Chromium: the CR/LF link sets no cookie for the host (cookies ignore
    ports: it would reach every local service), and the `//` and `\\` links stay on the server.
    Since issue 21 no link sets any cookie (Security 3)."""
    admin = "A" * 24
    srv: Server = servers(token=admin)
    view = Page(
        chromium, f"{srv.url}/?token=abc%0d%0aSet-Cookie:%20injected=by-attacker%0d%0a%0d%0a<h1>hi</h1>"
    )
    try:
        assert [c["name"] for c in view.context.cookies()] == []
        expect(view.page.locator("h1")).to_have_count(0)
        for path in ("/%2f%2fevil.example", "/%5cevil.example"):
            view.page.goto(f"{srv.url}{path}?token={admin}")
            assert view.page.url.startswith(f"{srv.url}/evil.example"), view.page.url
        # an old ?token= link still opens the page (sent on to #token=), and sets no cookie at all
        view.page.goto(f"{srv.url}/?token={admin}")
        expect(view.page.locator("#connection")).to_have_text("Live")
        assert view.context.cookies() == []
        assert view.page.url == f"{srv.url}/", "the token stays out of the address bar"
    finally:
        view.close()
